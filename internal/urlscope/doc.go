// Package urlscope parses and normalises the URLs and host names an agent
// sends, and matches them against a policy's allow-lists (scope.domains,
// scope.hosts) and forbidden URL globs. Every input is treated as hostile and
// every doubt is resolved by refusing: a URL this package cannot read with
// certainty is an error, never a guess.
//
// # Parsing
//
// Parse accepts only absolute URLs of the form scheme://[user[:pass]@]host[:port][/path][?query][#fragment].
// It rejects input that is empty, longer than 8 KiB, not UTF-8, or that holds a
// control character, whitespace (ASCII or Unicode), an invisible format
// character (zero-width space, bidi override, soft hyphen) or a backslash
// anywhere, because other parsers disagree about what those mean. It also
// rejects "http:host", "http:/host" and "http:///host" (browsers repair them,
// Go does not), more than one "@" in the authority, an empty port, a port with
// leading zeros or outside 1-65535, percent-encoding in the host, IPv6 zone
// identifiers, and an encoded NUL (%00) anywhere or an encoded control
// character in the path.
//
// The host is mapped with IDNA (UTS #46, the Lookup profile: fullwidth and
// other compatibility forms fold to ASCII, so "ａｐｉ.example.com" is
// api.example.com, while a Cyrillic "а" stays a different, punycoded name),
// lower-cased, and stripped of one trailing dot. Underscores and other
// characters outside letters, digits and hyphens are refused, as are empty
// labels, labels over 63 bytes and names over 253. If the last label is a
// number (digits, or 0x and hex digits) the whole host must be an IPv4 address
// in one of the spellings browsers and inet_aton accept (1 to 4 parts, each
// decimal, octal with a leading 0, or hex with 0x), else it is an error:
// "127.1", "0x7f000001", "2130706433" and "0177.0.0.1" all become 127.0.0.1.
// Bracketed IPv6 addresses are canonicalised and IPv4-mapped ones become IPv4.
// The path keeps its meaning but is made canonical: dot segments are removed
// (also when spelled %2e), escapes of unreserved characters are decoded, other
// escapes are upper-cased, and bytes that may not appear raw are escaped. The
// query is kept as sent, with only such bytes escaped. The fragment is dropped.
//
// # Allow-lists
//
// An Allowlist entry is [scheme://]HOST[:port]. HOST is a name, "*.name" (any
// subdomain at any depth, never the apex; at least two labels after "*."), "*"
// (any public DNS name), an IP address or a CIDR. Without a scheme an entry
// allows http and https; without a port, only the scheme's default port; a
// CIDR without a port allows every port. An IP literal in a URL is allowed
// only by an entry for that address or a CIDR containing it, never by a name
// or wildcard. Private names (single-label names, localhost, and names under
// .localhost, .local, .internal, .arpa, .lan, .home, .corp, .intranet,
// .private, .localdomain, .test, .invalid, .example, .onion, .alt) are allowed
// only by an entry naming them or a wildcard under a private suffix, never by
// "*". A URL carrying user info (user:pass@) is denied whatever the host:
// credentials in URLs leak into logs and are a favourite of parser-confusion
// attacks. Scheme and port are not considered for bare hosts (DNS look-ups).
//
// AllowURL and AllowHost re-normalise the host they are given, so a URL built
// by hand instead of by Parse is judged the same way; when an IP is present
// it is what is judged. Names are matched as written: this package does not
// resolve them, so an executor must still check the addresses a name resolves
// to (IsPrivate) to stop DNS rebinding and names like 127.0.0.1.nip.io.
//
// # Forbidden globs
//
// A Glob is a doublestar pattern over the normalised URL. Matching is
// case-insensitive throughout (the path too, because many servers fold case),
// and a URL is tried in every form a server might treat as the same: with and
// without its port, with and without its query, with its path percent-decoded
// and with repeated slashes merged, and as the raw text the agent sent. A
// pattern without a scheme is also tried against host+path. A host of "*.name"
// in a pattern also matches the apex name. Each extra form can only add
// matches, so a forbidden pattern errs toward denying.
package urlscope
