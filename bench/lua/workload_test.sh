#!/bin/sh
# Runs in the test's exec root: the interpreter and the workload are there
# at their workspace paths (they are the test's data).
bld-out/src/lua src/workload.lua || exit 1
