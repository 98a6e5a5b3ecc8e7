//go:build !linux

package main

import "testing"

type createWatch struct{}

// watchCreates cannot watch a directory on this platform.
func watchCreates(*testing.T, string) (*createWatch, bool) { return nil, false }

func (*createWatch) stop() (int, bool) { return 0, false }
