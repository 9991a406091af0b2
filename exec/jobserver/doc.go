// Package jobserver is bld's token pool: a GNU make jobserver that bld
// serves to the tools it runs (make, cargo, rustc, ninja, gcc
// -flto=jobserver) and that bld itself can join when it runs under a
// parent make or cargo.
//
// A Pool owns tokens. One of them is implicit: it is never in the
// jobserver and only bld's own actions can hold it. The others are bytes
// in a pipe (a named fifo when bld is the server). Every running action
// holds one token from Acquire to Release; an action marked
// jobserver-aware also gets the jobserver itself (AttachJobserver) and
// reads extra tokens from it for its inner parallelism, as make does.
//
// Two kinds of pools exist:
//
//   - NewServer creates a pool of n tokens backed by a private fifo. It
//     serves both client styles: pipe-style clients (GNU make 4.3, cargo,
//     rustc, the jobserver crate) get inherited descriptors and
//     --jobserver-auth=R,W; fifo-style clients (make 4.4+, ninja 1.13) get
//     --jobserver-auth=fifo:PATH. A server knows how many tokens exist and
//     restores the ones a dead child took (see Pool.Stats and
//     docs/jobserver.md).
//   - FromEnv joins the jobserver of a parent (MAKEFLAGS, CARGO_MAKEFLAGS
//     or MFLAGS) and uses bld's implicit token plus the tokens it reads from
//     the parent. Its jobserver-aware children get an inner jobserver of
//     bld's own, fed from the parent on demand, so that bld knows how many
//     of the parent's tokens they have and gives all of them back, even
//     those of a child that died; Close gives back every token.
//
// The package supports Unix systems; reopening inherited pipes and
// finding lingering holders of the fifo use Linux's /proc and degrade
// gracefully elsewhere.
package jobserver
