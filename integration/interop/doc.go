// Package interop runs other ZooKeeper clients, Apache Curator (a Java
// process) and Kazoo (a Python process), against a cluster, so that tests
// can check that our recipes and theirs keep each other's rules on the same
// paths, and benchmarks can measure them side by side.
//
// It needs a JDK (javac) and Debian's libcurator-recipes-java, and for
// Kazoo, Debian's python3-kazoo; it fails, never skips, when they are
// missing.
package interop
