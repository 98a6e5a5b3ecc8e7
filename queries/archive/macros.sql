-- abt's macros: the ADU-size and time bins of the rollups (1/64 octave:
-- package internal/rollup, Bin, BinLow and BinHigh), for any DuckDB client.
-- abt_bin(v) is the bin of v; abt_bin_low(b) and abt_bin_high(b) the least
-- and greatest value of bin b; abt_bin_mid(b) its midpoint. Below 2^40
-- floor(log2(v)) is v's most significant bit (log2 of 2^k-1 stays hundreds
-- of ulps below k); above, where it may round up (and every value above 2^53
-- is rounded when converted to a double), abt_msb corrects it with an
-- integer comparison. The fast branch matters: the exact queries bin every
-- ADU.
CREATE OR REPLACE MACRO abt_msb(v) AS
  least(floor(log2(v))::INTEGER, 62) - CASE WHEN (1::BIGINT << least(floor(log2(v))::INTEGER, 62)) > v THEN 1 ELSE 0 END;
CREATE OR REPLACE MACRO abt_bin_e(v, e) AS ((e - 6) * 64 + (v::BIGINT >> (e - 6)))::BIGINT;
CREATE OR REPLACE MACRO abt_bin(v) AS
  CASE WHEN v < 128 THEN v::BIGINT
       WHEN v < 1099511627776 THEN abt_bin_e(v, floor(log2(v))::INTEGER)
       ELSE abt_bin_e(v, abt_msb(v)) END;
CREATE OR REPLACE MACRO abt_bin_low(b) AS
  CASE WHEN b < 128 THEN b::BIGINT ELSE (((b % 64) + 64)::BIGINT << (b // 64 - 1)::INTEGER) END;
CREATE OR REPLACE MACRO abt_bin_high(b) AS
  CASE WHEN b < 128 THEN b::BIGINT ELSE abt_bin_low(b) + ((1::BIGINT << (b // 64 - 1)::INTEGER) - 1) END;
CREATE OR REPLACE MACRO abt_bin_mid(b) AS (abt_bin_low(b)::DOUBLE + abt_bin_high(b)::DOUBLE) / 2;
