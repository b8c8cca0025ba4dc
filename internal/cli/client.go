package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardenhq/warden/internal/warden"
)

// remoteFlags select a server instead of the local database.
type remoteFlags struct {
	server string
	token  string
}

func (f *remoteFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.server, "server", "", "a warden serve URL to work against instead of the local database")
	cmd.Flags().StringVar(&f.token, "token", "", "the bearer token for --server (default: $WARDEN_TOKEN)")
}

// client returns an API client when --server is set, or nil.
func (f *remoteFlags) client() (*apiClient, error) {
	if f.server == "" {
		return nil, nil
	}
	token := f.token
	if token == "" {
		token = os.Getenv("WARDEN_TOKEN")
	}
	if token == "" {
		return nil, usagef("--server needs a token: --token or $WARDEN_TOKEN")
	}
	return &apiClient{base: strings.TrimRight(f.server, "/"), token: token, http: &http.Client{Timeout: 30 * time.Second}}, nil
}

// apiClient calls the /v1 API.
type apiClient struct {
	base, token string
	http        *http.Client
}

// do sends a request and decodes the envelope's data into out; an error
// envelope becomes a warden.Error with the server's code and message.
func (c *apiClient) do(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct {
		OK    bool            `json:"ok"`
		Data  json.RawMessage `json:"data"`
		Error *warden.Error   `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&env); err != nil {
		return fmt.Errorf("--server %s answered %s with a body that is not Warden's JSON: %v", c.base, resp.Status, err)
	}
	if !env.OK {
		if env.Error == nil {
			return fmt.Errorf("--server %s answered %s", c.base, resp.Status)
		}
		return env.Error
	}
	if out != nil {
		return json.Unmarshal(env.Data, out)
	}
	return nil
}

// download GETs an endpoint that answers with a file rather than the
// envelope, such as a ledger export, and copies it to w. An error answer
// becomes a warden.Error, as in do.
func (c *apiClient) download(ctx context.Context, path string, w io.Writer) error {
	resp, err := c.send(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var env struct {
			Error *warden.Error `json:"error"`
		}
		if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&env); err != nil || env.Error == nil {
			return fmt.Errorf("--server %s answered %s", c.base, resp.Status)
		}
		return env.Error
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("--server %s: reading the answer: %w", c.base, err)
	}
	return nil
}

// send makes an authenticated request with body, if any, as JSON.
func (c *apiClient) send(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, warden.Errorf(warden.CodeInvalidInput, "--server %s: %v", c.base, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("--server %s: %w", c.base, err)
	}
	return resp, nil
}
