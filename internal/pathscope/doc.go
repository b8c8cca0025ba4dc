// Package pathscope turns the paths agents send into the one absolute path
// the operating system would open, and matches them against policy globs.
//
// Resolve works like the kernel: relative paths start at a base directory
// inside the project root, "~" is the home directory, "." and ".." and "//"
// are folded, and symbolic links are followed for every component that
// exists, so "src/link/../x" lands where open(2) would land. Both the
// lexical form (cleaned, links not followed) and the physical form are kept:
// scopes are checked against the physical form, and forbidden rules against
// every form, so that no spelling reaches a forbidden file.
//
// Globs use doublestar syntax ("**" spans directories; "*" matches dot files
// too). A relative glob ("src/**", "./src/**") is anchored at the project
// root, "~/x" at the home directory, a glob starting with "**" matches
// anywhere, and an absolute glob is absolute. A trailing "/" means the
// directory and everything under it.
package pathscope
