// Package repocheck holds tests that keep the repository's documents and
// automation in step: the README's commands are the ones CI and the
// workflows run, and the load scenarios' thresholds are fixed before the
// run. It has no code of its own.
package repocheck
