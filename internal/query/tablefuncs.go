package query

// tableFunctions classifies every table function (and table macro) of the
// pinned DuckDB, by lower-case name: true for those that only read files
// in the allowed directories, generate rows or describe DuckDB's state,
// which ad-hoc SQL may call; false for those it may not. Check refuses a
// table function that is false or missing, so one that a newer DuckDB adds
// is refused until it is listed here; TestTableFunctionsClassified fails
// until then.
var tableFunctions = map[string]bool{
	// Files in the allowed directories (DuckDB enforces which).
	"read_parquet": true, "parquet_scan": true, "parquet_metadata": true, "parquet_schema": true,
	"parquet_file_metadata": true, "parquet_kv_metadata": true, "parquet_full_metadata": true,
	"parquet_bloom_probe": true,
	"read_csv":            true, "read_csv_auto": true, "sniff_csv": true,
	"read_json": true, "read_json_auto": true, "read_json_objects": true, "read_json_objects_auto": true,
	"read_ndjson": true, "read_ndjson_auto": true, "read_ndjson_objects": true, "read_ndjson_objects_auto": true,
	"read_text": true, "read_blob": true, "glob": true,

	// Rows from values.
	"range": true, "generate_series": true, "unnest": true, "repeat": true, "repeat_row": true,
	"json_each": true, "json_tree": true, "summary": true, "histogram": true, "histogram_values": true,
	"test_all_types": true, "test_vector_types": true, "sql_auto_complete": true,

	// DuckDB's state, read.
	"duckdb_approx_database_count": true, "duckdb_columns": true, "duckdb_connection_count": true,
	"duckdb_constraints": true, "duckdb_coordinate_systems": true, "duckdb_databases": true,
	"duckdb_dependencies": true, "duckdb_extensions": true, "duckdb_external_file_cache": true,
	"duckdb_functions": true, "duckdb_indexes": true, "duckdb_keywords": true, "duckdb_log_contexts": true,
	"duckdb_logs": true, "duckdb_logs_parsed": true, "duckdb_memory": true, "duckdb_optimizers": true,
	"duckdb_prepared_statements": true, "duckdb_profiling_settings": true, "duckdb_schemas": true,
	"duckdb_secret_types": true, "duckdb_secrets": true, "duckdb_sequences": true, "duckdb_settings": true,
	"duckdb_table_sample": true, "duckdb_tables": true, "duckdb_temporary_files": true, "duckdb_types": true,
	"duckdb_variables": true, "duckdb_views": true, "which_secret": true,
	"pragma_collations": true, "pragma_database_size": true, "pragma_metadata_info": true,
	"pragma_platform": true, "pragma_show": true, "pragma_storage_info": true, "pragma_table_info": true,
	"pragma_user_agent": true, "pragma_version": true, "pg_timezone_names": true, "icu_calendar_names": true,

	// Change settings although the configuration is locked: profiling
	// and logging to a file (save_location, storage_path) that later
	// queries write; the parser; checkpoints.
	"enable_profiling": false, "disable_profiling": false,
	"enable_logging": false, "disable_logging": false, "truncate_duckdb_logs": false,
	"enable_peg_parser": false, "disable_peg_parser": false, "check_peg_parser": false,
	"checkpoint": false, "force_checkpoint": false,
	// Run SQL or scan tables named in a string, out of Check's sight.
	"query": false, "query_table": false, "json_execute_serialized_sql": false,
	// Open a database file (which DuckDB may write to), or read memory at
	// a given address.
	"read_duckdb": false, "arrow_scan": false, "arrow_scan_dumb": false, "seq_scan": false,
}
