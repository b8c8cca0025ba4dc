// Package executor runs the actions a policy allowed. One Adapter per action
// kind validates its input, dry-runs, executes and undoes what it did. File
// access goes through an os.Root confined to the session's project root, and
// every file an adapter opens is checked again, by the path it really has,
// against the policy that allowed the action: a symbolic link swapped in
// between the check and the use is refused. Adapters never hand agent input
// to a shell. Whatever an adapter changes it first snapshots into
// content-addressed Objects, so that it can be restored byte for byte.
package executor
