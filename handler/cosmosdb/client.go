// Package cosmosdb is the Cosmos DB (NoSQL API) adapter: it wraps azcosmos
// behind a small, ETag-aware document API and the domain ports built on it
// (profiles here; MFA, uploads, requests and idempotency in sibling files).
// Every container is partitioned on /id. SDK types and errors never leave
// this package: every error it returns is a *domain.Error (see translate).
package cosmosdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/profileflow/profileflow/handler/domain"
)

// Client is a Cosmos DB account client. It is safe for concurrent use; make
// one per process.
type Client struct {
	az *azcosmos.Client
}

// clientOptions: a few quick retries (the SDK honours x-ms-retry-after-ms on
// 429) so a throttled call still fits in an HTTP request's budget; callers
// bound each call further with their context.
func clientOptions() *azcosmos.ClientOptions {
	return &azcosmos.ClientOptions{
		ClientOptions: azcore.ClientOptions{
			Retry: policy.RetryOptions{
				MaxRetries:    3,
				TryTimeout:    10 * time.Second,
				RetryDelay:    200 * time.Millisecond,
				MaxRetryDelay: 2 * time.Second,
			},
			Telemetry: policy.TelemetryOptions{ApplicationID: "profileflow"},
		},
	}
}

// New returns a client for the account at endpoint. With a key it signs
// requests with the key (local stand-in, http endpoints allowed); with an
// empty key it uses DefaultAzureCredential (the managed identity in Azure).
func New(endpoint, key string) (*Client, error) {
	if strings.TrimSpace(endpoint) == "" {
		return nil, errors.New("cosmosdb: empty endpoint")
	}
	opts := clientOptions()
	var (
		az  *azcosmos.Client
		err error
	)
	if key != "" {
		cred, kerr := azcosmos.NewKeyCredential(key)
		if kerr != nil {
			return nil, fmt.Errorf("cosmosdb: key: %w", kerr)
		}
		az, err = azcosmos.NewClientWithKey(endpoint, cred, opts)
	} else {
		cred, cerr := azidentity.NewDefaultAzureCredential(nil)
		if cerr != nil {
			return nil, fmt.Errorf("cosmosdb: credential: %w", cerr)
		}
		az, err = azcosmos.NewClient(endpoint, cred, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("cosmosdb: client for %s: %w", endpoint, err)
	}
	return &Client{az: az}, nil
}

// ContainerSpec describes a container for EnsureSchema. Every container is
// partitioned on /id.
type ContainerSpec struct {
	Name       string
	DefaultTTL *int32 // seconds; nil = no TTL, -1 = TTL on with no default
}

// EnsureSchema creates the database and containers when missing (existing
// ones are left as they are). For local runs and tests only: in Azure, Bicep
// creates them and the app's identity may not create resources.
func (c *Client) EnsureSchema(ctx context.Context, database string, containers []ContainerSpec) error {
	if _, err := c.az.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: database}, nil); err != nil && !isStatus(err, 409) {
		return translate(err)
	}
	db, err := c.az.NewDatabase(database)
	if err != nil {
		return domain.Wrap(domain.KindInternal, err, "database is not configured correctly")
	}
	for _, s := range containers {
		props := azcosmos.ContainerProperties{
			ID:                     s.Name,
			PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"/id"}},
			DefaultTimeToLive:      s.DefaultTTL,
		}
		if _, err := db.CreateContainer(ctx, props, nil); err != nil && !isStatus(err, 409) {
			return translate(err)
		}
	}
	return nil
}

func isStatus(err error, code int) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == code
}

// Container is one container (pk /id) with an ETag-aware JSON document API.
// Documents are any JSON-marshalable values whose JSON has an "id" field
// equal to the id passed alongside. Every error is a *domain.Error.
type Container struct {
	name string
	cc   *azcosmos.ContainerClient
	err  error // set when the names were invalid
}

// Container returns the container name in database.
func (c *Client) Container(database, name string) *Container {
	cc, err := c.az.NewContainer(database, name)
	if err != nil {
		return &Container{name: name, err: domain.Wrap(domain.KindInternal, err, "database is not configured correctly")}
	}
	return &Container{name: name, cc: cc}
}

// Name returns the container's name.
func (c *Container) Name() string { return c.name }

// checkID rejects ids Cosmos DB cannot store or address.
func checkID(id string) error {
	if id == "" || len(id) > 255 || strings.ContainsAny(id, "/\\?#") || strings.TrimSpace(id) != id {
		return domain.E(domain.KindInvalid, "invalid id")
	}
	return nil
}

func (c *Container) ready(id string) error {
	if c.err != nil {
		return c.err
	}
	return checkID(id)
}

// encode marshals v and checks that its "id" equals id.
func encode(id string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, domain.Wrap(domain.KindInternal, err, "document cannot be encoded")
	}
	var head struct {
		ID *string `json:"id"`
	}
	if err := json.Unmarshal(b, &head); err != nil || head.ID == nil || *head.ID != id {
		return nil, domain.E(domain.KindInternal, "document id does not match")
	}
	return b, nil
}

func decode(raw []byte, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return domain.Wrap(domain.KindInternal, err, "stored document is malformed")
	}
	return nil
}

func ifMatch(etag string) *azcosmos.ItemOptions {
	if etag == "" {
		return nil
	}
	e := azcore.ETag(etag)
	return &azcosmos.ItemOptions{IfMatchEtag: &e}
}

// Read decodes the document id into v and returns its ETag.
// A missing document is KindNotFound.
func (c *Container) Read(ctx context.Context, id string, v any) (etag string, err error) {
	if err := c.ready(id); err != nil {
		return "", err
	}
	resp, err := c.cc.ReadItem(ctx, azcosmos.NewPartitionKeyString(id), id, nil)
	if err != nil {
		return "", translate(err)
	}
	if err := decode(resp.Value, v); err != nil {
		return "", err
	}
	return string(resp.ETag), nil
}

// Create stores v as a new document and returns its ETag. An existing id is
// KindConflict.
func (c *Container) Create(ctx context.Context, id string, v any) (etag string, err error) {
	if err := c.ready(id); err != nil {
		return "", err
	}
	b, err := encode(id, v)
	if err != nil {
		return "", err
	}
	resp, err := c.cc.CreateItem(ctx, azcosmos.NewPartitionKeyString(id), b, nil)
	if err != nil {
		return "", translate(err)
	}
	return string(resp.ETag), nil
}

// Replace overwrites the document id with v if its ETag still equals ifMatch
// (KindStale otherwise; an empty ifMatch replaces unconditionally) and
// returns the new ETag. A missing document is KindNotFound.
func (c *Container) Replace(ctx context.Context, id string, v any, ifMatchETag string) (etag string, err error) {
	if err := c.ready(id); err != nil {
		return "", err
	}
	b, err := encode(id, v)
	if err != nil {
		return "", err
	}
	resp, err := c.cc.ReplaceItem(ctx, azcosmos.NewPartitionKeyString(id), id, b, ifMatch(ifMatchETag))
	if err != nil {
		return "", translate(err)
	}
	return string(resp.ETag), nil
}

// Upsert creates or overwrites the document id unconditionally and returns
// its ETag.
func (c *Container) Upsert(ctx context.Context, id string, v any) (string, error) {
	if err := c.ready(id); err != nil {
		return "", err
	}
	b, err := encode(id, v)
	if err != nil {
		return "", err
	}
	resp, err := c.cc.UpsertItem(ctx, azcosmos.NewPartitionKeyString(id), b, nil)
	if err != nil {
		return "", translate(err)
	}
	return string(resp.ETag), nil
}

// Delete removes the document id if its ETag still equals ifMatch (KindStale
// otherwise; empty = unconditionally). A missing document is KindNotFound.
func (c *Container) Delete(ctx context.Context, id, ifMatchETag string) error {
	if err := c.ready(id); err != nil {
		return err
	}
	if _, err := c.cc.DeleteItem(ctx, azcosmos.NewPartitionKeyString(id), id, ifMatch(ifMatchETag)); err != nil {
		return translate(err)
	}
	return nil
}

// Query runs a parameterized SQL query across all partitions and calls each
// with every result's raw JSON, page by page. Parameter names may be given
// with or without the leading "@". An error from each stops the query and is
// returned as is. Note the gateway (and the local stand-in) serve only
// simple cross-partition queries: filters, projections, TOP, ORDER BY on one
// field; no GROUP BY, DISTINCT or OFFSET/LIMIT.
func (c *Container) Query(ctx context.Context, query string, params map[string]any, each func(raw []byte) error) error {
	if c.err != nil {
		return c.err
	}
	opts := &azcosmos.QueryOptions{}
	if len(params) > 0 {
		names := make([]string, 0, len(params))
		for k := range params {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			name := k
			if !strings.HasPrefix(name, "@") {
				name = "@" + name
			}
			opts.QueryParameters = append(opts.QueryParameters, azcosmos.QueryParameter{Name: name, Value: params[k]})
		}
	}
	pager := c.cc.NewQueryItemsPager(query, azcosmos.NewPartitionKey(), opts)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return translate(err)
		}
		for _, raw := range page.Items {
			if err := each(raw); err != nil {
				return err
			}
		}
	}
	return nil
}
