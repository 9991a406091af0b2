// Package remote is bld's client of the Remote Execution API v2: a remote
// cache and remote execution on the services that speak it (Buildbarn,
// BuildBuddy, NativeLink, bazel-remote). Work in progress: this file only
// pins the modules the client is built on.
package remote

import (
	_ "cloud.google.com/go/longrunning/autogen/longrunningpb"
	_ "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	_ "google.golang.org/genproto/googleapis/bytestream"
	_ "google.golang.org/grpc"
	_ "google.golang.org/protobuf/proto"
)
