package partition

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// FuzzReadFooter feeds ReadFooter arbitrary files: it never panics, and a
// file it rejects is a *CorruptError naming it.
func FuzzReadFooter(f *testing.F) {
	dir := f.TempDir()
	good := filepath.Join(dir, "seed.parquet")
	type row struct {
		A int64  `parquet:"a"`
		B string `parquet:"b"`
	}
	if err := parquet.WriteFile(good, []row{{1, "x"}, {2, "y"}}, parquet.KeyValueMetadata("abt.table", "adus")); err != nil {
		f.Fatal(err)
	}
	b, err := os.ReadFile(good)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("PAR1PAR1"))
	f.Add([]byte("PAR1\x00\x00\x00\x00\xff\xff\xff\x7fPAR1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "f.parquet")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		file, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer file.Close()
		ft, err := ReadFooter(file, path)
		if err != nil {
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.Path != path {
				t.Fatalf("error %v is not a CorruptError naming the file", err)
			}
			return
		}
		if ft.KV == nil {
			t.Fatal("a footer read without error has a metadata map")
		}
	})
}
