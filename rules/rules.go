// Package rules holds bld's built-in rule library, written in Starlark and
// embedded in the binary. Its files are the package @bld//rules:
//
//	load("@bld//rules:cc.star", "cc_unit", "cc_binary", "CcInfo")
//
// prelude.star re-exports the rules every BUILD.star sees without a load.
package rules

import "embed"

// Files holds the .star files of @bld//rules, at their names.
//
//go:embed *.star
var Files embed.FS
