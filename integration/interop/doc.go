// Package interop runs other ZooKeeper clients (Apache Curator in a Java
// process) against a test cluster, so that tests can check that our recipes
// and theirs keep each other's rules on the same paths.
//
// It needs a JDK (javac) and Debian's libcurator-recipes-java; a test that
// uses it fails, not skips, when they are missing.
package interop
