package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"bld/cmd/bld/internal/build"
	"bld/exec/crash"
	"bld/exec/remote"
	"bld/exec/remote/pipe"
)

// remoteHelp documents remoteFlags for a command's help.
const remoteHelp = `  --remote_cache URL
                   also keep and look up results in a remote cache that
                   speaks the Remote Execution API (grpc://HOST:PORT,
                   grpcs://HOST:PORT for TLS); the local cache stays in
                   front (docs/remote.md)
  --remote_executor URL
                   run actions on a remote executor (Buildbarn, BuildBuddy,
                   NativeLink, ...); also its cache unless --remote_cache
                   names another
  --remote_instance_name NAME
  --remote_header NAME=VALUE
                   a gRPC header of every remote call (authentication);
                   repeatable
  --remote_timeout DURATION
                   the bound of each remote call (60s; a number is seconds)
  --remote_jobs N  remote actions under way at once (default 64)
  --remote_queue_timeout DURATION
                   how long an action may wait for a remote worker before
                   bld takes the service as failing and builds here
                   (default 60s; 0: wait as long as the service says)
  --remote_take_back_after DURATION
                   run a remote action here instead when the service has
                   not started it after DURATION and this machine has a
                   free job token (a dynamic strategy; off by default)
  --remote_ship_toolchain
                   send gcc compiles with the toolchain that runs them here
                   (driver, cc1, as, the libraries they load, the include
                   directories), uploaded once, so that a worker without a
                   compiler compiles what this machine would; links run here
  --remote_download_outputs all|toplevel|minimal
                   which outputs of remote results come to this machine:
                   all (the default); toplevel, the outputs of the targets
                   asked for and what actions that run here read; minimal,
                   only what actions that run here read (the rest stays in
                   the remote cache, known by digest: docs/remote.md)
  --remote_download_toplevel, --remote_download_minimal
                   the same as --remote_download_outputs toplevel, minimal
  --noremote_upload_local_results
                   read the remote cache, never write it
  --credential_helper PATH
                   a program that gives the headers of remote calls
                   (Bazel's credential helper protocol)
  --tls_certificate FILE
                   the CA certificate of a grpcs:// service
  --tls_client_certificate FILE, --tls_client_key FILE
                   a client certificate, for services that ask for one`

// remoteFlags are the flags of the remote cache and executor, with
// Bazel's names.
type remoteFlags struct {
	cache, executor, instance string
	headers                   stringsFlag
	timeout, queueTimeout     string
	takeBackAfter             string
	jobs                      int
	noUpload                  bool
	upload                    string
	credentialHelper          string
	tlsCA, tlsCert, tlsKey    string
	ship                      bool
	download                  string
	downloadToplevel          bool
	downloadMinimal           bool
}

func addRemoteFlags(fs *flag.FlagSet) *remoteFlags {
	f := &remoteFlags{}
	fs.StringVar(&f.cache, "remote_cache", "", "")
	fs.StringVar(&f.executor, "remote_executor", "", "")
	fs.StringVar(&f.instance, "remote_instance_name", "", "")
	fs.Var(&f.headers, "remote_header", "")
	fs.StringVar(&f.timeout, "remote_timeout", "60s", "")
	fs.StringVar(&f.queueTimeout, "remote_queue_timeout", "60s", "")
	fs.StringVar(&f.takeBackAfter, "remote_take_back_after", "0", "")
	fs.IntVar(&f.jobs, "remote_jobs", 0, "")
	fs.BoolVar(&f.noUpload, "noremote_upload_local_results", false, "")
	fs.StringVar(&f.upload, "remote_upload_local_results", "true", "")
	fs.StringVar(&f.credentialHelper, "credential_helper", "", "")
	fs.StringVar(&f.tlsCA, "tls_certificate", "", "")
	fs.StringVar(&f.tlsCert, "tls_client_certificate", "", "")
	fs.StringVar(&f.tlsKey, "tls_client_key", "", "")
	fs.BoolVar(&f.ship, "remote_ship_toolchain", false, "")
	fs.StringVar(&f.download, "remote_download_outputs", "all", "")
	fs.BoolVar(&f.downloadToplevel, "remote_download_toplevel", false, "")
	fs.BoolVar(&f.downloadMinimal, "remote_download_minimal", false, "")
	return f
}

// remoteSettings are what the remote flags ask for, checked.
type remoteSettings struct {
	// Cache and Exec are the endpoints of the remote cache and executor;
	// nil when not used. With --remote_executor alone, they are the same.
	Cache, Exec *remote.Config
	Jobs        int
	// Upload says whether results of actions that ran here are written
	// to the remote cache.
	Upload bool
	// Ship sends compiles with the local toolchain.
	Ship bool
	// Download says which outputs of remote results are downloaded.
	Download build.Download
	// TakeBackAfter lets remote actions the service has not started after
	// that long run here when a token is free; 0 never.
	TakeBackAfter time.Duration
}

// settings checks the flags; a usage error names the flag.
func (f *remoteFlags) settings() (remoteSettings, error) {
	var s remoteSettings
	if f.ship && f.executor == "" {
		return s, usageError("--remote_ship_toolchain needs --remote_executor")
	}
	download, err := build.ParseDownload(f.download)
	if err != nil {
		return s, usageError("--remote_download_outputs " + f.download + ": " + err.Error())
	}
	switch {
	case f.downloadMinimal:
		download = build.DownloadMinimal
	case f.downloadToplevel:
		download = build.DownloadToplevel
	}
	if f.cache == "" && f.executor == "" {
		return s, nil
	}
	s.Download = download
	for _, fl := range [][2]string{{"--remote_cache", f.cache}, {"--remote_executor", f.executor}} {
		if fl[1] == "" {
			continue
		}
		if err := remote.CheckTarget(fl[1]); err != nil {
			return s, usageError(fl[0] + ": " + err.Error())
		}
	}
	timeout, err := parseTimeout(f.timeout)
	if err != nil {
		return s, usageError("--remote_timeout " + f.timeout + ": " + err.Error())
	}
	queueTimeout := time.Duration(0)
	if f.queueTimeout != "0" {
		if queueTimeout, err = parseTimeout(f.queueTimeout); err != nil {
			return s, usageError("--remote_queue_timeout " + f.queueTimeout + ": " + err.Error())
		}
	}
	if f.takeBackAfter != "0" {
		if s.TakeBackAfter, err = parseTimeout(f.takeBackAfter); err != nil {
			return s, usageError("--remote_take_back_after " + f.takeBackAfter + ": " + err.Error())
		}
	}
	var headers [][2]string
	for _, h := range f.headers {
		name, value, err := remote.ParseHeader(h)
		if err != nil {
			return s, usageError("--remote_header " + h + ": " + err.Error())
		}
		headers = append(headers, [2]string{name, value})
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return s, usageError("--tls_client_certificate and --tls_client_key go together")
	}
	upload, err := strconv.ParseBool(f.upload)
	if err != nil {
		return s, usageError("--remote_upload_local_results " + f.upload + ": want true or false")
	}
	config := func(target string) *remote.Config {
		return &remote.Config{Target: target, InstanceName: f.instance, Headers: headers, Timeout: timeout, QueueTimeout: queueTimeout,
			TLSCA: f.tlsCA, TLSCert: f.tlsCert, TLSKey: f.tlsKey, CredentialHelper: f.credentialHelper}
	}
	if f.executor != "" {
		s.Exec = config(f.executor)
	}
	switch {
	case f.cache != "":
		s.Cache = config(f.cache)
	case s.Exec != nil:
		s.Cache = s.Exec
	}
	s.Jobs = f.jobs
	s.Upload = upload && !f.noUpload
	s.Ship = f.ship
	return s, nil
}

// parseTimeout reads a duration ("90s", "2m") or a number of seconds, as
// Bazel's --remote_timeout.
func parseTimeout(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 {
			return 0, fmt.Errorf("want a positive number of seconds")
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("want a duration such as 60s, or a number of seconds")
	}
	return d, nil
}

// remoteClients are the connections of a build, and what went wrong
// making them.
type remoteClients struct {
	cache, exec remote.Service
	warnings    []string
}

// remoteProgram is the program bld-remote, which holds the gRPC client of
// remote services (package pipe says why it is not in bld): beside bld's
// own executable, where `go install ./cmd/bld/...` puts it, else on PATH.
func remoteProgram() (string, error) {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "bld-remote")
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	if p, err := exec.LookPath("bld-remote"); err == nil {
		return p, nil
	}
	return "", errors.New("the program bld-remote, which talks to remote services, is neither beside bld nor on PATH (install both: go install ./cmd/bld/...)")
}

// dialRemote connects to the service cfg names through bld-remote.
func dialRemote(ctx context.Context, cfg remote.Config) (remote.Service, error) {
	program, err := remoteProgram()
	if err != nil {
		return nil, err
	}
	return pipe.Start(ctx, program, nil, cfg)
}

// dial connects to the remote services of s, in the background (loading
// and analysis go on meanwhile), and delivers the clients on the channel.
// A service that cannot be reached costs a warning, and the build goes on
// without it: the remote cache and executor are optimizations.
func (s remoteSettings) dial(ctx context.Context) <-chan remoteClients {
	ch := make(chan remoteClients, 1)
	if s.Cache == nil && s.Exec == nil {
		ch <- remoteClients{}
		return ch
	}
	crash.Go(func() {
		var c remoteClients
		if s.Exec != nil {
			client, err := dialRemote(ctx, *s.Exec)
			switch {
			case err != nil:
				c.warnings = append(c.warnings, fmt.Sprintf("remote executor: %v; building on this machine", err))
			case client.CanExecute():
				c.exec = client
			default:
				c.warnings = append(c.warnings, fmt.Sprintf("%s does not offer remote execution; building on this machine", s.Exec.Target))
			}
			if err == nil && s.Cache == s.Exec {
				c.cache = client
			} else if err == nil && c.exec == nil {
				client.Close()
			}
		}
		if s.Cache != nil && s.Cache != s.Exec {
			client, err := dialRemote(ctx, *s.Cache)
			if err != nil {
				c.warnings = append(c.warnings, fmt.Sprintf("remote cache: %v; building without it", err))
			} else {
				c.cache = client
			}
		}
		ch <- c
	})
	return ch
}

// close closes the connections.
func (c remoteClients) close() {
	if c.exec != nil {
		c.exec.Close()
	}
	if c.cache != nil && c.cache != c.exec {
		c.cache.Close()
	}
}

// printSummary says what the remote services did in this build, when
// there were any: actions run remotely, results restored, bytes moved.
func (c remoteClients) printSummary(w io.Writer, hits, ran, execCached int64, takenBack int) {
	if c.cache == nil && c.exec == nil {
		return
	}
	var up, down int64
	clients := []remote.Service{c.cache}
	if c.exec != c.cache {
		clients = append(clients, c.exec)
	}
	for _, cl := range clients {
		if cl != nil {
			st := cl.Stats()
			up, down = up+st.BytesUploaded, down+st.BytesDownloaded
		}
	}
	var parts []string
	if c.exec != nil {
		p := fmt.Sprintf("%d action(s) ran on %s", ran, c.exec.Target())
		if execCached > 0 {
			p += fmt.Sprintf(" (%d answered from its cache)", execCached)
		}
		parts = append(parts, p)
		if takenBack > 0 {
			parts = append(parts, fmt.Sprintf("%d taken back from its queue and run here", takenBack))
		}
	}
	if c.cache != nil {
		parts = append(parts, fmt.Sprintf("%d restored from the remote cache %s", hits, c.cache.Target()))
	}
	parts = append(parts, fmt.Sprintf("%s up, %s down", humanBytes(up), humanBytes(down)))
	fmt.Fprintf(w, "bld: remote: %s\n", strings.Join(parts, "; "))
}

// humanBytes writes n bytes as B, KB or MB.
func humanBytes(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.1f KB", float64(n)/1e3)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}
