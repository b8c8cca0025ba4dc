package fsserver

import "github.com/modelcontextprotocol/go-sdk/mcp"

// The tool definitions. Names, titles, input schemas (fields, types,
// required fields, defaults), output schemas and annotations are the
// reference server's; descriptions are Warden's own words for the same
// behaviour. Input schemas forbid fields they do not list, since Runner
// refuses them rather than ignore a misspelt option.

type schema = map[string]any

func prop(typ, desc string) schema {
	s := schema{"type": typ}
	if desc != "" {
		s["description"] = desc
	}
	return s
}

func stringList(desc string) schema {
	s := schema{"type": "array", "items": schema{"type": "string"}}
	if desc != "" {
		s["description"] = desc
	}
	return s
}

// input is a tool's input schema: an object with the properties given,
// the required ones listed.
func input(props schema, required ...string) schema {
	s := schema{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

// textOutput is the output schema of the tools that answer with text:
// structured content {content: the same text}.
func textOutput() schema {
	return schema{
		"type":                 "object",
		"properties":           schema{"content": schema{"type": "string"}},
		"required":             []string{"content"},
		"additionalProperties": false,
	}
}

func boolPtr(b bool) *bool { return &b }

// readOnly are the annotations of a tool that changes nothing.
func readOnly() *mcp.ToolAnnotations {
	return &mcp.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: boolPtr(false)}
}

// changes are the annotations of a tool that changes files.
func changes(destructive, idempotent bool) *mcp.ToolAnnotations {
	return &mcp.ToolAnnotations{DestructiveHint: boolPtr(destructive), IdempotentHint: idempotent, OpenWorldHint: boolPtr(false)}
}

const withinRoot = " Paths are absolute inside the project root or relative to it; only the project root is accessible, within the policy."

func pathInput() schema { return input(schema{"path": prop("string", "")}, "path") }

func readTextInput() schema {
	return input(schema{
		"path": prop("string", ""),
		"tail": prop("number", "Return only the last N lines of the file."),
		"head": prop("number", "Return only the first N lines of the file."),
	}, "path")
}

func readFileTool() *mcp.Tool {
	return &mcp.Tool{
		Name:         "read_file",
		Title:        "Read File (Deprecated)",
		Description:  "Read a whole file as text. Deprecated: read_text_file does the same and more.",
		InputSchema:  readTextInput(),
		OutputSchema: textOutput(),
		Annotations:  readOnly(),
	}
}

func readTextFileTool() *mcp.Tool {
	return &mcp.Tool{
		Name:  "read_text_file",
		Title: "Read Text File",
		Description: "Read a file as UTF-8 text, whatever its extension, and return its content. " +
			"Use it to look at one file. Give head to get only its first N lines, or tail to get only its last N lines (not both). " +
			"Errors say why the file could not be read." + withinRoot,
		InputSchema:  readTextInput(),
		OutputSchema: textOutput(),
		Annotations:  readOnly(),
	}
}

func readMediaFileTool() *mcp.Tool {
	item := schema{"anyOf": []any{
		schema{
			"type": "object",
			"properties": schema{
				"type":     schema{"type": "string", "enum": []string{"image", "audio"}},
				"data":     schema{"type": "string"},
				"mimeType": schema{"type": "string"},
			},
			"required":             []string{"type", "data", "mimeType"},
			"additionalProperties": false,
		},
		schema{
			"type": "object",
			"properties": schema{
				"type": schema{"type": "string", "const": "resource"},
				"resource": schema{
					"type": "object",
					"properties": schema{
						"uri":      schema{"type": "string"},
						"mimeType": schema{"type": "string"},
						"blob":     schema{"type": "string"},
					},
					"required":             []string{"uri", "blob"},
					"additionalProperties": false,
				},
			},
			"required":             []string{"type", "resource"},
			"additionalProperties": false,
		},
	}}
	return &mcp.Tool{
		Name:  "read_media_file",
		Title: "Read Media File",
		Description: "Read a file and return its bytes base64-encoded with a MIME type taken from its extension: " +
			"image and audio files as image or audio content, any other file as an embedded resource." + withinRoot,
		InputSchema: pathInput(),
		OutputSchema: schema{
			"type":                 "object",
			"properties":           schema{"content": schema{"type": "array", "items": item}},
			"required":             []string{"content"},
			"additionalProperties": false,
		},
		Annotations: readOnly(),
	}
}

func readMultipleFilesTool() *mcp.Tool {
	paths := stringList("The files to read, each a path inside the project root.")
	paths["minItems"] = 1
	return &mcp.Tool{
		Name:  "read_multiple_files",
		Title: "Read Multiple Files",
		Description: "Read several files in one call, which is quicker than reading them one by one when comparing or analysing them together. " +
			"Each file's content comes under its path, the files separated by \"---\"; a file that cannot be read is reported in its place and the others are still read." + withinRoot,
		InputSchema:  input(schema{"paths": paths}, "paths"),
		OutputSchema: textOutput(),
		Annotations:  readOnly(),
	}
}

func writeFileTool() *mcp.Tool {
	return &mcp.Tool{
		Name:  "write_file",
		Title: "Write File",
		Description: "Create a file, or replace an existing file's whole content, with the given text (UTF-8). " +
			"An existing file is overwritten without warning, so use it with care; its directory must already exist." + withinRoot,
		InputSchema:  input(schema{"path": prop("string", ""), "content": prop("string", "")}, "path", "content"),
		OutputSchema: textOutput(),
		Annotations:  changes(true, true),
	}
}

func editFileTool() *mcp.Tool {
	edit := schema{
		"type": "object",
		"properties": schema{
			"oldText": prop("string", "The text to replace, exactly as it is in the file."),
			"newText": prop("string", "The text to put in its place."),
		},
		"required":             []string{"oldText", "newText"},
		"additionalProperties": false,
	}
	dryRun := prop("boolean", "Only show the change as a git-style diff; do not write the file.")
	dryRun["default"] = false
	return &mcp.Tool{
		Name:  "edit_file",
		Title: "Edit File",
		Description: "Edit a text file by replacing text: each edit, in order, replaces the first occurrence of its oldText with its newText " +
			"(where oldText is not found as written, lines that match it apart from indentation are replaced). " +
			"Returns a git-style diff of the change." + withinRoot,
		InputSchema:  input(schema{"path": prop("string", ""), "edits": schema{"type": "array", "items": edit}, "dryRun": dryRun}, "path", "edits"),
		OutputSchema: textOutput(),
		Annotations:  changes(true, false),
	}
}

func createDirectoryTool() *mcp.Tool {
	return &mcp.Tool{
		Name:  "create_directory",
		Title: "Create Directory",
		Description: "Create a directory, and any missing directories above it, in one call; a directory that already exists is left as it is and the call succeeds. " +
			"Use it to set up a project's structure or make sure a path exists." + withinRoot,
		InputSchema:  pathInput(),
		OutputSchema: textOutput(),
		Annotations:  changes(false, true),
	}
}

func listDirectoryTool() *mcp.Tool {
	return &mcp.Tool{
		Name:  "list_directory",
		Title: "List Directory",
		Description: "List the entries of a directory, one per line, each marked [DIR] for a directory or [FILE] for anything else. " +
			"Use it to see how a directory is laid out and to find files in it." + withinRoot,
		InputSchema:  pathInput(),
		OutputSchema: textOutput(),
		Annotations:  readOnly(),
	}
}

func listDirectoryWithSizesTool() *mcp.Tool {
	sortBy := prop("string", "Order the entries by name, or by size with the largest first.")
	sortBy["enum"] = []string{"name", "size"}
	sortBy["default"] = "name"
	return &mcp.Tool{
		Name:  "list_directory_with_sizes",
		Title: "List Directory with Sizes",
		Description: "List the entries of a directory with their sizes, each marked [DIR] for a directory or [FILE] for anything else, " +
			"followed by the number of files and directories and the files' combined size." + withinRoot,
		InputSchema:  input(schema{"path": prop("string", ""), "sortBy": sortBy}, "path"),
		OutputSchema: textOutput(),
		Annotations:  readOnly(),
	}
}

func directoryTreeTool() *mcp.Tool {
	excludes := stringList("")
	excludes["default"] = []string{}
	return &mcp.Tool{
		Name:  "directory_tree",
		Title: "Directory Tree",
		Description: "Return everything below a directory as a JSON tree indented by two spaces: each entry has a name and a type, \"file\" or \"directory\", " +
			"and a directory has a children array (empty when it is), a file none. " +
			"Entries whose path matches one of excludePatterns (globs) are left out with everything below them." + withinRoot,
		InputSchema:  input(schema{"path": prop("string", ""), "excludePatterns": excludes}, "path"),
		OutputSchema: textOutput(),
		Annotations:  readOnly(),
	}
}

func moveFileTool() *mcp.Tool {
	return &mcp.Tool{
		Name:  "move_file",
		Title: "Move File",
		Description: "Move or rename a file or directory, within a directory or to another one. " +
			"The move fails when something already exists at the destination." + withinRoot,
		InputSchema:  input(schema{"source": prop("string", ""), "destination": prop("string", "")}, "source", "destination"),
		OutputSchema: textOutput(),
		Annotations:  changes(true, false),
	}
}

func searchFilesTool() *mcp.Tool {
	excludes := stringList("")
	excludes["default"] = []string{}
	return &mcp.Tool{
		Name:  "search_files",
		Title: "Search Files",
		Description: "Search a directory and everything below it for files and directories whose path, relative to that directory, matches a glob pattern: " +
			"\"*.ext\" matches the directory's own entries, \"**/*.ext\" entries at any depth. " +
			"Returns the full path of each match, one per line. Use it to find files whose location you do not know." + withinRoot,
		InputSchema:  input(schema{"path": prop("string", ""), "pattern": prop("string", ""), "excludePatterns": excludes}, "path", "pattern"),
		OutputSchema: textOutput(),
		Annotations:  readOnly(),
	}
}

func getFileInfoTool() *mcp.Tool {
	return &mcp.Tool{
		Name:  "get_file_info",
		Title: "Get File Info",
		Description: "Return what is known of a file or directory without reading it: its size, when it was created, modified and last read, " +
			"whether it is a file or a directory, and its permissions." + withinRoot,
		InputSchema:  pathInput(),
		OutputSchema: textOutput(),
		Annotations:  readOnly(),
	}
}

func listAllowedDirectoriesTool() *mcp.Tool {
	return &mcp.Tool{
		Name:  "list_allowed_directories",
		Title: "List Allowed Directories",
		Description: "Return the directories this server may access: the project root. Everything below it is accessible too, as far as the policy allows. " +
			"Use it to learn where files can be read and written before trying.",
		InputSchema:  input(schema{}),
		OutputSchema: textOutput(),
		Annotations:  readOnly(),
	}
}

func runCommandTool() *mcp.Tool {
	out := textOutput()
	out["properties"].(schema)["exitCode"] = schema{"type": "integer"}
	return &mcp.Tool{
		Name:  "run_command",
		Title: "Run Command",
		Description: "Run a command in the project, as the policy allows. command is a command line (simple commands joined by ;, &&, || and |, " +
			"unless the policy allows more shell syntax), or, with args, the program to run directly with those arguments. " +
			"Returns what the command wrote to stdout, then to stderr, then \"Exit code: N\" when it failed. A command cannot be undone.",
		InputSchema: input(schema{
			"command": prop("string", "The command line to run, or with args the program."),
			"args":    stringList("The program's arguments: command is then run directly, not parsed as a command line."),
			"cwd":     prop("string", "The directory to run in, inside the project root; the root by default."),
			"timeout": prop("number", "How long the command may run, in milliseconds (default 30000, at most 3600000)."),
		}, "command"),
		OutputSchema: out,
		Annotations:  &mcp.ToolAnnotations{DestructiveHint: boolPtr(true), OpenWorldHint: boolPtr(true)},
	}
}
