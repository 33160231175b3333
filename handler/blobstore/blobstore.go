// Package blobstore is the Azure Blob Storage adapter (azblob v1.8.3) of the
// upload domain: it signs blob-scoped upload SAS URLs (account-key SAS
// against Azurite, user delegation SAS through a token credential in Azure),
// reads block lists with the server's own credential, and prepares
// containers and CORS for local runs. azblob types never leave this package;
// its errors become domain kinds.
package blobstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/upload"
)

// Options configure a Store.
type Options struct {
	// Accounts are the blob service URLs of the upload shards, e.g.
	// https://acct.blob.core.windows.net or http://127.0.0.1:10000/devstoreaccount1.
	Accounts []string
	// AccountKey is the shared key of every account (Azurite). When empty,
	// Credential (or, if nil, azidentity.DefaultAzureCredential) is used and
	// upload SAS are user delegation SAS.
	AccountKey string
	Credential azcore.TokenCredential
	// Transport replaces the HTTP client of SDK calls (tests).
	Transport policy.Transporter
	// Now is the clock (tests); time.Now when nil.
	Now func() time.Time
}

// Store implements upload.BlobSigner and upload.BlobInspector.
type Store struct {
	accounts map[string]*account
	order    []string // account URLs in configuration order (shard choice)
	now      func() time.Time
}

var (
	_ upload.BlobSigner    = (*Store)(nil)
	_ upload.BlobInspector = (*Store)(nil)
)

type account struct {
	url    string // without trailing slash
	https  bool
	svc    *service.Client
	shared *service.SharedKeyCredential // nil → user delegation

	mu       sync.Mutex
	udc      *service.UserDelegationCredential
	udExpiry time.Time
}

// udKeyLifetime is how long a requested user delegation key lives; a cached
// key is reused while it outlives the SAS being signed by udKeyMargin.
const (
	udKeyLifetime = 6 * time.Hour
	udKeyMargin   = 10 * time.Minute
)

// New builds a Store for opts.Accounts.
func New(opts Options) (*Store, error) {
	if len(opts.Accounts) == 0 {
		return nil, fmt.Errorf("blobstore: no accounts configured (UPLOAD_ACCOUNTS)")
	}
	s := &Store{accounts: map[string]*account{}, now: opts.Now}
	if s.now == nil {
		s.now = time.Now
	}
	cred := opts.Credential
	if opts.AccountKey == "" && cred == nil {
		c, err := azidentity.NewDefaultAzureCredential(nil)
		if err != nil {
			return nil, fmt.Errorf("blobstore: managed identity credential: %w", err)
		}
		cred = c
	}
	clientOpts := &service.ClientOptions{}
	if opts.Transport != nil {
		clientOpts.Transport = opts.Transport
	}
	for _, raw := range opts.Accounts {
		u := strings.TrimRight(raw, "/")
		parsed, err := url.Parse(u)
		if err != nil || parsed.Host == "" || (parsed.Scheme != "https" && parsed.Scheme != "http") {
			return nil, fmt.Errorf("blobstore: account URL %q is not an http(s) URL", raw)
		}
		a := &account{url: u, https: parsed.Scheme == "https"}
		if opts.AccountKey != "" {
			name, err := accountName(u)
			if err != nil {
				return nil, err
			}
			a.shared, err = service.NewSharedKeyCredential(name, opts.AccountKey)
			if err != nil {
				return nil, fmt.Errorf("blobstore: account key for %s: %w", name, err)
			}
			a.svc, err = service.NewClientWithSharedKeyCredential(u+"/", a.shared, clientOpts)
			if err != nil {
				return nil, fmt.Errorf("blobstore: client for %s: %w", u, err)
			}
		} else {
			a.svc, err = service.NewClient(u+"/", cred, clientOpts)
			if err != nil {
				return nil, fmt.Errorf("blobstore: client for %s: %w", u, err)
			}
		}
		s.accounts[u] = a
		s.order = append(s.order, u)
	}
	return s, nil
}

// accountName is the storage account of a service URL: the first path
// segment for IP/localhost endpoints (Azurite), else the first host label.
func accountName(serviceURL string) (string, error) {
	p, err := blob.ParseURL(serviceURL + "/x")
	if err != nil {
		return "", fmt.Errorf("blobstore: account URL %q: %w", serviceURL, err)
	}
	if n := p.IPEndpointStyleInfo.AccountName; n != "" {
		return n, nil
	}
	host := p.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "localhost" {
		u, _ := url.Parse(serviceURL)
		if seg := strings.Trim(u.Path, "/"); seg != "" {
			return strings.Split(seg, "/")[0], nil
		}
	}
	name, _, _ := strings.Cut(host, ".")
	if name == "" {
		return "", fmt.Errorf("blobstore: no account name in %q", serviceURL)
	}
	return name, nil
}

func (s *Store) account(ref upload.BlobRef) (*account, error) {
	a, ok := s.accounts[strings.TrimRight(ref.Account, "/")]
	if !ok {
		return nil, domain.E(domain.KindInternal, "upload account is not configured")
	}
	return a, nil
}

// blobURL is the plain URL of a blob (no query).
func (a *account) blobURL(container, name string) string {
	segs := strings.Split(name, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return a.url + "/" + url.PathEscape(container) + "/" + strings.Join(segs, "/")
}

// SignUpload returns the blob's URL with a SAS allowing only create+write
// of that one blob, valid from now-5m until expiry (capped at now+30m),
// HTTPS-only when the account is HTTPS. The URL is a secret: never log it.
func (s *Store) SignUpload(ctx context.Context, ref upload.BlobRef, expiry time.Time) (string, error) {
	now := s.now().UTC()
	if limit := now.Add(upload.MaxSASTTL); expiry.After(limit) {
		expiry = limit
	}
	if !expiry.After(now) {
		return "", domain.E(domain.KindGone, "the upload has expired")
	}
	return s.sign(ctx, ref, sas.BlobPermissions{Create: true, Write: true}, now, expiry)
}

// sign returns ref's URL with a SAS granting perms on that one blob from
// now-ClockSkew until expiry.
func (s *Store) sign(ctx context.Context, ref upload.BlobRef, perms sas.BlobPermissions, now, expiry time.Time, tweaks ...func(*sas.BlobSignatureValues)) (string, error) {
	a, err := s.account(ref)
	if err != nil {
		return "", err
	}
	v := sas.BlobSignatureValues{
		Protocol:      sas.ProtocolHTTPSandHTTP,
		StartTime:     now.Add(-upload.ClockSkew),
		ExpiryTime:    expiry.UTC(),
		Permissions:   perms.String(),
		ContainerName: ref.Container,
		BlobName:      ref.Name,
	}
	for _, tw := range tweaks {
		tw(&v)
	}
	if a.https {
		v.Protocol = sas.ProtocolHTTPS
	}
	var qp sas.QueryParameters
	if a.shared != nil {
		qp, err = v.SignWithSharedKey(a.shared)
	} else {
		var udc *service.UserDelegationCredential
		udc, err = a.delegationKey(ctx, now, expiry)
		if err != nil {
			return "", err
		}
		qp, err = v.SignWithUserDelegation(udc)
	}
	if err != nil {
		return "", domain.Wrap(domain.KindInternal, err, "could not sign the blob URL")
	}
	return a.blobURL(ref.Container, ref.Name) + "?" + qp.Encode(), nil
}

// delegationKey returns a cached user delegation key that outlives expiry,
// fetching a new one (valid udKeyLifetime) when needed.
func (a *account) delegationKey(ctx context.Context, now, expiry time.Time) (*service.UserDelegationCredential, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.udc != nil && a.udExpiry.After(expiry.Add(udKeyMargin)) {
		return a.udc, nil
	}
	keyExpiry := now.Add(udKeyLifetime)
	start, end := now.Add(-upload.ClockSkew).Format(sas.TimeFormat), keyExpiry.Format(sas.TimeFormat)
	udc, err := a.svc.GetUserDelegationCredential(ctx, service.KeyInfo{Start: &start, Expiry: &end}, nil)
	if err != nil {
		return nil, translate(err, "could not obtain a user delegation key")
	}
	a.udc, a.udExpiry = udc, keyExpiry
	return udc, nil
}

// BlockList reads what storage holds for ref with the server's credential:
// the committed blob's properties (length, ETag, Content-MD5, content type)
// and the committed and uncommitted blocks. A blob with nothing staged
// yields an empty list. A blob written with one Put Blob exists with no
// committed blocks.
func (s *Store) BlockList(ctx context.Context, ref upload.BlobRef) (upload.BlockList, error) {
	a, err := s.account(ref)
	if err != nil {
		return upload.BlockList{}, err
	}
	bb := a.svc.NewContainerClient(ref.Container).NewBlockBlobClient(ref.Name)
	var out upload.BlockList
	props, err := bb.GetProperties(ctx, nil)
	switch {
	case bloberror.HasCode(err, bloberror.BlobNotFound) || isStatus(err, http.StatusNotFound):
		// Not committed; it may still have staged blocks.
	case err != nil:
		return upload.BlockList{}, translate(err, "could not read the upload's properties")
	default:
		out.Exists = true
		if props.ContentLength != nil {
			out.CommittedSize = *props.ContentLength
		}
		if props.ContentType != nil {
			out.ContentType = *props.ContentType
		}
		if props.ETag != nil {
			out.ETag = string(*props.ETag)
		}
		out.ContentMD5 = props.ContentMD5
	}
	resp, err := bb.GetBlockList(ctx, blockblob.BlockListTypeAll, nil)
	if err != nil {
		if bloberror.HasCode(err, bloberror.BlobNotFound) {
			return out, nil
		}
		return upload.BlockList{}, translate(err, "could not read the upload's block list")
	}
	out.Committed, out.Uncommitted = blocks(resp.CommittedBlocks), blocks(resp.UncommittedBlocks)
	return out, nil
}

// isStatus reports whether err is a storage response with that status.
func isStatus(err error, status int) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == status
}

func blocks(in []*blockblob.Block) []upload.Block {
	out := make([]upload.Block, 0, len(in))
	for _, b := range in {
		if b == nil || b.Name == nil {
			continue
		}
		var size int64
		if b.Size != nil {
			size = *b.Size
		}
		out = append(out, upload.Block{ID: *b.Name, Size: size})
	}
	return out
}

// EnsureContainers creates the named containers in every account when they
// are missing (local runs; Bicep creates them in Azure).
func (s *Store) EnsureContainers(ctx context.Context, names ...string) error {
	for _, a := range s.accounts {
		for _, n := range names {
			_, err := a.svc.CreateContainer(ctx, n, nil)
			if err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
				return translate(err, fmt.Sprintf("could not create container %s", n))
			}
		}
	}
	return nil
}

// CORS methods and headers browsers need for block uploads and status reads.
const (
	corsMethods = "PUT,GET,HEAD,OPTIONS"
	corsExposed = "ETag,Content-MD5,Content-Length,Date,x-ms-*"
)

// SetCORS sets the blob service CORS rule of every account to allow origins
// to PUT blocks (any request header) and read ETag and x-ms-* headers.
func (s *Store) SetCORS(ctx context.Context, origins ...string) error {
	if len(origins) == 0 {
		return fmt.Errorf("blobstore: SetCORS needs at least one origin")
	}
	orig, methods, headers, exposed, maxAge := strings.Join(origins, ","), corsMethods, "*", corsExposed, int32(600)
	rule := &service.CORSRule{AllowedOrigins: &orig, AllowedMethods: &methods, AllowedHeaders: &headers, ExposedHeaders: &exposed, MaxAgeInSeconds: &maxAge}
	for _, a := range s.accounts {
		if _, err := a.svc.SetProperties(ctx, &service.SetPropertiesOptions{CORS: []*service.CORSRule{rule}}); err != nil {
			return translate(err, "could not set blob CORS")
		}
	}
	return nil
}

// translate maps an azblob/azcore error to a domain kind. The message is
// caller-safe; the cause (which never holds a SAS) stays for logs.
func translate(err error, msg string) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return domain.Wrap(domain.KindTransient, err, "%s: timed out", msg)
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		switch {
		case re.StatusCode == http.StatusNotFound:
			return domain.Wrap(domain.KindNotFound, err, "%s: not found", msg)
		case re.StatusCode == http.StatusTooManyRequests || re.StatusCode == http.StatusServiceUnavailable ||
			re.StatusCode == http.StatusInternalServerError || re.StatusCode == http.StatusBadGateway ||
			re.StatusCode == http.StatusGatewayTimeout || re.StatusCode == http.StatusRequestTimeout:
			return &domain.Error{Kind: domain.KindTransient, Msg: msg + ": storage is busy, retry later", Err: err, RetryAfter: 5 * time.Second}
		case re.StatusCode == http.StatusConflict:
			return domain.Wrap(domain.KindConflict, err, "%s: conflict", msg)
		default:
			// 401/403 and the rest mean our own credential or request is wrong.
			return domain.Wrap(domain.KindInternal, err, "%s", msg)
		}
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return domain.Wrap(domain.KindTransient, err, "%s: storage unreachable", msg)
	}
	return domain.Wrap(domain.KindTransient, err, "%s", msg)
}
