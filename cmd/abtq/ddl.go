package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/abt-dev/abt/internal/cli"
	"github.com/abt-dev/abt/schema"
)

// newDDLCmd is 'abtq ddl': the tables' definitions for an engine that
// needs them declared (schema.DDL), from the one schema the writer uses.
func newDDLCmd(stdout io.Writer) *cobra.Command {
	var location string
	cmd := &cobra.Command{
		Use:   "ddl {trino|spark|hive}",
		Short: "The tables' CREATE TABLE statements for Trino, Spark, Hive",
		Long: strings.TrimSpace(`
Print, for the engine named, the CREATE TABLE statements of the adus,
connections and runs tables over an archive at --location (a path or URI
the engine reads; default the --archive directory): the columns of the
Parquet files, in order, with the engine's types, then the partition
columns sensor, date and hour (hour an integer). They are made from the
same schema the writer uses (schema/), so they list every column. After
new hours are published, the engine must learn of their directories (Trino:
CALL system.sync_partition_metadata('abt', '<table>', 'ADD'); Hive and
Spark: MSCK REPAIR TABLE abt.<table>). DuckDB and Polars need no DDL:
docs/scaling.md.`),
		Example: cli.Example(`
  # Trino, over an archive mirrored to S3
  $ abtq ddl trino --location s3://bucket/abt

  # Spark, over the archive directory itself
  $ abtq --archive /data/abt ddl spark`),
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{string(schema.Trino), string(schema.Spark), string(schema.Hive)},
		RunE: func(cmd *cobra.Command, args []string) error {
			root := location
			if root == "" {
				root = cmd.Flag("archive").Value.String()
			}
			root = strings.TrimRight(root, "/")
			var out []string
			for _, table := range schema.Tables {
				ddl, err := schema.DDL(schema.Engine(args[0]), table, root+"/"+table)
				if err != nil {
					return &usageError{err}
				}
				out = append(out, ddl+";\n")
			}
			_, err := fmt.Fprint(stdout, strings.Join(out, "\n"))
			return err
		},
	}
	cmd.Flags().StringVar(&location, "location", "", "the archive's directory as the engine reads it (a path or URI)")
	return cmd
}
