package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/profileflow/profileflow/dev/stack"
)

// developmentStorage is the value of a connection setting that means "the
// local emulator on its default ports" (Azurite's documentation).
const developmentStorage = "UseDevelopmentStorage=true"

// storageConnectionString resolves a storage binding's "connection" to a
// connection string, as the Functions host does: the app setting of that
// name, else AzureWebJobs<name>. "UseDevelopmentStorage=true" means Azurite
// on 127.0.0.1:10000. Identity-based connections (<name>__serviceUri,
// <name>__blobServiceUri, <name>__accountName) work in Azure, where the
// app's managed identity signs in; the development host has no identity to
// use against Azurite, so locally the setting must hold a connection string,
// and an error says so.
func storageConnectionString(name string, getenv func(string) string) (string, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		v = strings.TrimSpace(getenv("AzureWebJobs" + name))
	}
	if v == "" {
		for _, suffix := range []string{"__serviceUri", "__blobServiceUri", "__accountName"} {
			if getenv(name+suffix) != "" {
				return "", fmt.Errorf("connection %q: the identity-based setting %s%s works in Azure only; locally set %s to a storage connection string (Azurite's, or %s)",
					name, name, suffix, name, developmentStorage)
			}
		}
		return "", fmt.Errorf("connection %q: app setting %s is not set (it must hold a storage connection string)", name, name)
	}
	if strings.EqualFold(strings.TrimRight(v, ";"), developmentStorage) {
		v = fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=http://127.0.0.1:10000/%s;",
			stack.AzuriteAccountName, stack.AzuriteAccountKey, stack.AzuriteAccountName)
	}
	return v, nil
}

// azureStorage is blobStorage over the Azure SDK (Azurite locally).
type azureStorage struct {
	c *azblob.Client
}

// openAzureStorage opens an account from a connection string (no request
// is made); a malformed string is an error that does not repeat it.
func openAzureStorage(connStr string) (blobStorage, error) {
	c, err := azblob.NewClientFromConnectionString(connStr, &azblob.ClientOptions{
		// A few quick retries: a poll that fails is repeated at the next one.
		ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: 2, RetryDelay: 200 * time.Millisecond, TryTimeout: time.Minute}},
	})
	if err != nil {
		return nil, errors.New("the connection string is malformed (want DefaultEndpointsProtocol=…;AccountName=…;AccountKey=…;BlobEndpoint=…)")
	}
	return &azureStorage{c: c}, nil
}

func (s *azureStorage) container(name string) *container.Client {
	return s.c.ServiceClient().NewContainerClient(name)
}

func (s *azureStorage) List(ctx context.Context, cont, prefix string) ([]blobItem, error) {
	opts := &container.ListBlobsFlatOptions{Include: container.ListBlobsInclude{Metadata: true}}
	if prefix != "" {
		opts.Prefix = &prefix
	}
	pager := s.container(cont).NewListBlobsFlatPager(opts)
	var out []blobItem
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if bloberror.HasCode(err, bloberror.ContainerNotFound) {
			return nil, errContainerMissing
		}
		if err != nil {
			return nil, fmt.Errorf("list container %s: %w", cont, err)
		}
		for _, b := range page.Segment.BlobItems {
			if b == nil || b.Name == nil || b.Properties == nil || b.Properties.ETag == nil {
				continue
			}
			out = append(out, toBlobItem(b))
		}
	}
	return out, nil
}

func toBlobItem(b *container.BlobItem) blobItem {
	p := b.Properties
	it := blobItem{Name: *b.Name, ETag: string(*p.ETag), Metadata: map[string]string{}}
	for k, v := range b.Metadata {
		if v != nil {
			it.Metadata[k] = *v
		}
	}
	tm := func(v *time.Time) time.Time {
		if v == nil {
			return time.Time{}
		}
		return *v
	}
	pr := &it.Props
	if p.BlobType != nil {
		pr.BlobType = string(*p.BlobType)
	}
	if p.ContentLength != nil {
		pr.ContentLength = *p.ContentLength
	}
	pr.ContentType, pr.ContentEncoding, pr.ContentLanguage = p.ContentType, p.ContentEncoding, p.ContentLanguage
	pr.ContentDisposition, pr.CacheControl, pr.ContentMD5 = p.ContentDisposition, p.CacheControl, p.ContentMD5
	pr.LastModified, pr.CreatedOn, pr.CopyCompletedOn = tm(p.LastModified), tm(p.CreationTime), tm(p.CopyCompletionTime)
	if p.CopyStatus != nil {
		pr.CopyStatus = string(*p.CopyStatus)
	}
	pr.CopyStatusDescription, pr.CopyID, pr.CopyProgress, pr.CopySource = p.CopyStatusDescription, p.CopyID, p.CopyProgress, p.CopySource
	pr.IncrementalCopy = p.IncrementalCopy != nil && *p.IncrementalCopy
	pr.DestinationSnapshot = p.DestinationSnapshot
	if p.LeaseDuration != nil {
		pr.LeaseDuration = string(*p.LeaseDuration)
	}
	if p.LeaseState != nil {
		pr.LeaseState = string(*p.LeaseState)
	}
	if p.LeaseStatus != nil {
		pr.LeaseStatus = string(*p.LeaseStatus)
	}
	if p.BlobSequenceNumber != nil {
		pr.BlobSequenceNumber = *p.BlobSequenceNumber
	}
	pr.ServerEncrypted = p.ServerEncrypted != nil && *p.ServerEncrypted
	pr.EncryptionKeySHA256, pr.EncryptionScope = p.CustomerProvidedKeySHA256, p.EncryptionScope
	if p.AccessTier != nil {
		pr.AccessTier = to.Ptr(string(*p.AccessTier))
	}
	pr.AccessTierInferred = p.AccessTierInferred != nil && *p.AccessTierInferred
	pr.AccessTierChangedOn = tm(p.AccessTierChangeTime)
	if p.ArchiveStatus != nil {
		pr.ArchiveStatus = to.Ptr(string(*p.ArchiveStatus))
	}
	pr.VersionID = b.VersionID
	pr.IsCurrentVersion = b.IsCurrentVersion != nil && *b.IsCurrentVersion
	if p.TagCount != nil {
		pr.TagCount = *p.TagCount
	}
	pr.ExpiresOn = tm(p.ExpiresOn)
	pr.Sealed = p.IsSealed != nil && *p.IsSealed
	if p.RehydratePriority != nil {
		pr.RehydratePriority = to.Ptr(string(*p.RehydratePriority))
	}
	pr.LastAccessed = tm(p.LastAccessedOn)
	pr.ImmutableUntil = p.ImmutabilityPolicyExpiresOn
	if p.ImmutabilityPolicyMode != nil {
		pr.ImmutabilityMode = string(*p.ImmutabilityPolicyMode)
	}
	pr.LegalHold = p.LegalHold != nil && *p.LegalHold
	return it
}

func (s *azureStorage) Download(ctx context.Context, cont, name, etag string) ([]byte, error) {
	match := azcore.ETag(quotedETag(etag))
	resp, err := s.c.DownloadStream(ctx, cont, name, &blob.DownloadStreamOptions{
		AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: &match}},
	})
	if err != nil {
		err = classify(err, "download "+cont+"/"+name)
		if errors.Is(err, errBlobChanged) { // Azurite answers 412, not 404, for a missing blob
			if _, perr := s.container(cont).NewBlobClient(name).GetProperties(ctx, nil); errors.Is(classify(perr, ""), errBlobGone) {
				return nil, errBlobGone
			}
		}
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, classify(err, "read "+cont+"/"+name)
	}
	return b, nil
}

// classify turns the service's "not found" into errBlobGone and a failed
// If-Match into errBlobChanged.
func classify(err error, what string) error {
	var re *azcore.ResponseError
	switch {
	case bloberror.HasCode(err, bloberror.BlobNotFound, bloberror.ContainerNotFound):
		return errBlobGone
	case bloberror.HasCode(err, bloberror.ConditionNotMet):
		return errBlobChanged
	case errors.As(err, &re) && re.StatusCode == http.StatusNotFound:
		return errBlobGone
	case errors.As(err, &re) && re.StatusCode == http.StatusPreconditionFailed:
		return errBlobChanged
	}
	return fmt.Errorf("%s: %w", what, err)
}

// BlobURL keeps the slashes of the name, as the .NET SDK's BlobClient.Uri
// does (the Go SDK's blob client URL escapes them as %2F).
func (s *azureStorage) BlobURL(cont, name string) string {
	return s.container(cont).URL() + "/" + (&url.URL{Path: name}).EscapedPath()
}

// receiptStateKey is the receipt blob's metadata key holding its state.
const receiptStateKey = "state"

func (s *azureStorage) Receipt(ctx context.Context, k receiptKey) (receiptState, bool, error) {
	props, err := s.container(BlobReceiptsContainer).NewBlobClient(k.path()).GetProperties(ctx, nil)
	if err != nil {
		if errors.Is(classify(err, ""), errBlobGone) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("read receipt %s: %w", k.path(), err)
	}
	for key, v := range props.Metadata {
		if strings.EqualFold(key, receiptStateKey) && v != nil {
			return receiptState(*v), true, nil
		}
	}
	return receiptDone, true, nil
}

func (s *azureStorage) PutReceipt(ctx context.Context, k receiptKey, st receiptState) error {
	state := string(st)
	return s.putWithContainer(ctx, BlobReceiptsContainer, k.path(), nil, map[string]*string{receiptStateKey: &state})
}

// putWithContainer uploads a small blob, creating the container when it is
// missing.
func (s *azureStorage) putWithContainer(ctx context.Context, cont, name string, content []byte, meta map[string]*string) error {
	put := func() error {
		_, err := s.c.UploadBuffer(ctx, cont, name, content, &azblob.UploadBufferOptions{Metadata: meta})
		return err
	}
	err := put()
	if bloberror.HasCode(err, bloberror.ContainerNotFound) {
		if _, cerr := s.c.CreateContainer(ctx, cont, nil); cerr != nil && !bloberror.HasCode(cerr, bloberror.ContainerAlreadyExists) {
			return fmt.Errorf("create container %s: %w", cont, cerr)
		}
		err = put()
	}
	if err != nil {
		return fmt.Errorf("write %s/%s: %w", cont, name, err)
	}
	return nil
}

// poisonBlobName names a version's poison record, so that writing it twice
// leaves one record.
func poisonBlobName(m PoisonMessage) string {
	return m.FunctionID + "/" + bareETag(m.ETag) + "/" + m.ContainerName + "/" + m.BlobName + ".json"
}

func (s *azureStorage) PutPoison(ctx context.Context, m PoisonMessage) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return s.putWithContainer(ctx, BlobPoisonName, poisonBlobName(m), b, nil)
}

func (s *azureStorage) PoisonMessages(ctx context.Context) ([]PoisonMessage, error) {
	pager := s.container(BlobPoisonName).NewListBlobsFlatPager(nil)
	type rec struct {
		at time.Time
		m  PoisonMessage
	}
	var recs []rec
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if bloberror.HasCode(err, bloberror.ContainerNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", BlobPoisonName, err)
		}
		for _, b := range page.Segment.BlobItems {
			resp, err := s.c.DownloadStream(ctx, BlobPoisonName, *b.Name, nil)
			if err != nil {
				if errors.Is(classify(err, ""), errBlobGone) {
					continue
				}
				return nil, fmt.Errorf("read poison record %s: %w", *b.Name, err)
			}
			var buf bytes.Buffer
			_, err = io.Copy(&buf, resp.Body)
			resp.Body.Close()
			if err != nil {
				return nil, fmt.Errorf("read poison record %s: %w", *b.Name, err)
			}
			var m PoisonMessage
			if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
				return nil, fmt.Errorf("poison record %s is not a poison message: %w", *b.Name, err)
			}
			r := rec{m: m}
			if b.Properties != nil && b.Properties.CreationTime != nil {
				r.at = *b.Properties.CreationTime
			}
			recs = append(recs, r)
		}
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].at.Before(recs[j].at) })
	out := make([]PoisonMessage, len(recs))
	for i, r := range recs {
		out[i] = r.m
	}
	return out, nil
}
