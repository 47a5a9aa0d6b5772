// Package zktest starts real ZooKeeper servers in Docker for tests, in the
// style of a testcontainers-go module, and injects the faults that
// coordination code must survive.
//
// [Run] starts a single server or an ensemble of 3 or 5 members on a Docker
// network of its own and returns once it really serves: every member answers
// the srvr four-letter word and, for an ensemble, one of them leads. [Start]
// does the same for a test and schedules [Cluster.Terminate]. [RunTests]
// shares one cluster among a package's tests and starts it only when a test
// first uses it, so that tests that need no server run without Docker.
//
// Clients connect through an in-process TCP proxy ([Cluster.Servers]), so
// the addresses they were given stay valid when a member restarts on a new
// host port, and the harness learns every session's id and password from the
// server's connect reply. That is what lets [Cluster.ExpireSession] close any
// client's session on the server side, whatever library made it.
//
// Fault controls:
//   - [Member.Stop], [Member.Kill], [Member.Start], [Member.Restart];
//   - [Member.Pause] and [Member.Unpause] (docker pause: the JVM freezes);
//   - [Member.Disconnect] and [Member.Reconnect] cut a member off the
//     ensemble network (its peers and its clients alike);
//   - [Cluster.NewProxy] gives one client its own proxy whose traffic can be
//     cut ([Proxy.Cut]), black-holed ([Proxy.Blackhole]) or delayed
//     ([Proxy.Delay]) without touching other clients;
//   - [Cluster.ExpireSession] expires a session on the server side.
//
// The image comes from the ZKTEST_IMAGE environment variable, defaulting to
// the official image ([DefaultImage]). On machines without a registry,
// scripts/zkimage/build.sh builds a compatible image from Debian's packages.
// Ryuk is not used: Run sets TESTCONTAINERS_RYUK_DISABLED=true unless the
// caller set it, [Cluster.Terminate] removes what Run made, and Run removes
// containers and networks left behind by test processes that no longer run.
package zktest
