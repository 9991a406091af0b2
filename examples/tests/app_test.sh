#!/bin/sh
# The example program, a data file of this test, at its workspace path.
out=$(bld-out/examples/c/app/app) || exit 1
test "$out" = "Hello, world! (app 1.0.0)" || { echo "app printed: $out"; exit 1; }
