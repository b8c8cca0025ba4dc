package fsserver

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/wardenhq/warden/internal/executor"
	"github.com/wardenhq/warden/internal/warden"
)

// readChunk is how much a head or tail read asks the file:read adapter
// for at a time.
const readChunk = 64 << 10

// readOutput is the part of file:read's output this package uses.
type readOutput struct {
	Content string `json:"content"`
	Size    int64  `json:"size"`
}

// A reader reads one file through the file:read adapter, which opens it
// under the root and re-checks the path it really has, and keeps the
// evidence of every read.
type reader struct {
	c     *call
	path  string // as the agent wrote it
	rel   string
	arts  []warden.Artifact
	bytes int64
}

// read returns length bytes from offset (length < 0: to the end, at most
// executor.MaxCapture) and the file's size.
func (r *reader) read(ctx context.Context, offset, length int64) ([]byte, int64, error) {
	in := executor.Input{"path": r.path, "encoding": "base64", "offset": offset}
	if length >= 0 {
		in["length"] = length
	}
	out, err := r.c.exec(ctx, "file:read", in)
	if err != nil {
		return nil, 0, r.c.readError(r.rel, err)
	}
	var res readOutput
	if err := decodeOutput(out, &res); err != nil {
		return nil, 0, err
	}
	b, err := base64.StdEncoding.DecodeString(res.Content)
	if err != nil {
		return nil, 0, &warden.Error{Code: warden.CodeInternal, Message: "file:read output: " + err.Error(), Err: err}
	}
	r.arts = append(r.arts, out.Artifacts...)
	r.bytes += out.OutputBytes
	return b, res.Size, nil
}

// all reads the whole file.
func (r *reader) all(ctx context.Context) ([]byte, error) {
	b, _, err := r.read(ctx, 0, -1)
	return b, err
}

// head returns the first n lines as the reference does: without their
// line endings, joined by "\n", with a last line that has no newline
// included only when the file ends before n lines. Line endings are not
// normalised.
func (r *reader) head(ctx context.Context, n int) (string, error) {
	var buf []byte
	lines := 0
	for off := int64(0); ; {
		b, size, err := r.read(ctx, off, readChunk)
		if err != nil {
			return "", err
		}
		buf = append(buf, b...)
		lines += bytes.Count(b, []byte{'\n'})
		off += int64(len(b))
		if lines >= n || len(b) == 0 || off >= size {
			break
		}
		if len(buf) > executor.MaxCapture {
			return "", warden.Errorf(warden.CodeTooLarge, "the first %d lines of %s are more than %d bytes", n, r.rel, executor.MaxCapture)
		}
	}
	parts := strings.Split(decodeText(buf), "\n")
	if lines >= n {
		return strings.Join(parts[:n], "\n"), nil
	}
	if parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return strings.Join(parts, "\n"), nil
}

// tail returns the last n lines as the reference does: the text from the
// point where n newlines have been seen, read backwards, with CRLF read as
// LF, split on "\n" and the last n pieces joined again. A file that ends
// in a newline thus gives n-1 lines and an empty last one.
func (r *reader) tail(ctx context.Context, n int) (string, error) {
	_, size, err := r.read(ctx, 0, 0)
	if err != nil {
		return "", err
	}
	var buf []byte
	lines := 0
	for pos := size; pos > 0 && lines < n; {
		l := min(int64(readChunk), pos)
		pos -= l
		b, _, err := r.read(ctx, pos, l)
		if err != nil {
			return "", err
		}
		buf = append(b, buf...)
		lines += bytes.Count(b, []byte{'\n'})
		if len(buf) > executor.MaxCapture {
			return "", warden.Errorf(warden.CodeTooLarge, "the last %d lines of %s are more than %d bytes", n, r.rel, executor.MaxCapture)
		}
	}
	parts := strings.Split(normalizeNewlines(decodeText(buf)), "\n")
	return strings.Join(parts[max(0, len(parts)-n):], "\n"), nil
}

// outcome is the evidence of the reads, with the answer to send.
func (r *reader) outcome(res *mcp.CallToolResult) *executor.Outcome {
	return &executor.Outcome{Output: res, Artifacts: r.arts, OutputBytes: r.bytes}
}

// readTextArgs are read_text_file's and read_file's.
type readTextArgs struct {
	path       string
	head, tail int
}

func parseReadText(in map[string]any) (a readTextArgs, err error) {
	if err = executor.Known(in, "path", "head", "tail"); err != nil {
		return a, err
	}
	if a.path, err = executor.String(in, "path", true); err != nil {
		return a, err
	}
	head, err := executor.Int(in, "head", 0, 0, 1<<31-1)
	if err != nil {
		return a, err
	}
	tail, err := executor.Int(in, "tail", 0, 0, 1<<31-1)
	if err != nil {
		return a, err
	}
	a.head, a.tail = int(head), int(tail)
	if a.head > 0 && a.tail > 0 {
		return a, warden.Errorf(warden.CodeInvalidInput, "Cannot specify both head and tail parameters simultaneously")
	}
	return a, nil
}

// readText is read_text_file (and read_file): the file as UTF-8 text, or
// its first or last lines.
func readText(in map[string]any) (runFunc, error) {
	a, err := parseReadText(in)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, c *call) (*executor.Outcome, error) {
		rel, err := c.resolve(a.path)
		if err != nil {
			return nil, err
		}
		r := &reader{c: c, path: a.path, rel: rel}
		var text string
		switch {
		case a.tail > 0:
			text, err = r.tail(ctx, a.tail)
		case a.head > 0:
			text, err = r.head(ctx, a.head)
		default:
			var b []byte
			b, err = r.all(ctx)
			text = decodeText(b)
		}
		if err != nil {
			return nil, err
		}
		return r.outcome(textResult(text)), nil
	}, nil
}

// mediaTypes are the types read_media_file knows by extension; any other
// file is application/octet-stream.
var mediaTypes = map[string]string{
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
	".webp": "image/webp", ".bmp": "image/bmp", ".svg": "image/svg+xml",
	".mp3": "audio/mpeg", ".wav": "audio/wav", ".ogg": "audio/ogg", ".flac": "audio/flac",
}

// readMedia is read_media_file: the file, base64-encoded, as image or
// audio content with its type, or as an embedded resource for any other
// type. The type comes from the extension of the file the path really
// names.
func readMedia(in map[string]any) (runFunc, error) {
	if err := executor.Known(in, "path"); err != nil {
		return nil, err
	}
	p, err := executor.String(in, "path", true)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, c *call) (*executor.Outcome, error) {
		rel, err := c.resolve(p)
		if err != nil {
			return nil, err
		}
		r := &reader{c: c, path: p, rel: rel}
		data, err := r.all(ctx)
		if err != nil {
			return nil, err
		}
		real, _ := c.follow(rel)
		mime, ok := mediaTypes[strings.ToLower(path.Ext(real))]
		if !ok {
			mime = "application/octet-stream"
		}
		var item mcp.Content
		switch {
		case strings.HasPrefix(mime, "image/"):
			item = &mcp.ImageContent{Data: data, MIMEType: mime}
		case strings.HasPrefix(mime, "audio/"):
			item = &mcp.AudioContent{Data: data, MIMEType: mime}
		default:
			u := url.URL{Scheme: "file", Path: filepath.ToSlash(c.abs(real))}
			item = &mcp.EmbeddedResource{Resource: &mcp.ResourceContents{URI: u.String(), MIMEType: mime, Blob: data}}
		}
		content := []mcp.Content{item}
		return r.outcome(&mcp.CallToolResult{Content: content, StructuredContent: map[string]any{"content": content}}), nil
	}, nil
}

// readMultiple is read_multiple_files: each file through the file:read
// adapter, so that each path is checked where it really leads; a file
// that cannot be read is reported in its place, the others still are.
func readMultiple(in map[string]any) (runFunc, error) {
	if err := executor.Known(in, "paths"); err != nil {
		return nil, err
	}
	if in["paths"] == nil {
		return nil, warden.Errorf(warden.CodeInvalidInput, "input.paths: required")
	}
	paths, err := executor.Strings(in, "paths")
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, warden.Errorf(warden.CodeInvalidInput, "input.paths: must list at least one file path")
	}
	return func(ctx context.Context, c *call) (*executor.Outcome, error) {
		out := &executor.Outcome{}
		parts := make([]string, len(paths))
		for i, p := range paths {
			text, err := readOne(ctx, c, p, out)
			if err != nil {
				parts[i] = fmt.Sprintf("%s: Error - %s", p, errorMessage(err))
				continue
			}
			parts[i] = fmt.Sprintf("%s:\n%s\n", p, text)
		}
		out.Output = textResult(strings.Join(parts, "\n---\n"))
		return out, nil
	}, nil
}

// readOne reads one of read_multiple_files' paths, adding its evidence to
// out.
func readOne(ctx context.Context, c *call, p string, out *executor.Outcome) (string, error) {
	if p == "" {
		return "", warden.Errorf(warden.CodeInvalidInput, "path is empty")
	}
	rel, err := c.resolve(p)
	if err != nil {
		return "", err
	}
	r := &reader{c: c, path: p, rel: rel}
	b, err := r.all(ctx)
	out.Artifacts = append(out.Artifacts, r.arts...)
	out.OutputBytes += r.bytes
	if err != nil {
		return "", err
	}
	return decodeText(b), nil
}
