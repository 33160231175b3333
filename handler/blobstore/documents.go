package blobstore

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/upload"
)

// Documents: the server-side operations on evidence documents after upload.
// Every copy is server-side (Copy Blob From URL, synchronous, ≤ 256 MiB per
// blob, within one account) and conditional on the exact source version,
// so what is scanned, stored clean and shown is the version pinned at
// acceptance (Azure Blob Storage REST: Copy Blob From URL, conditional
// headers x-ms-source-if-match).

// copyAuthTTL is the validity of the read SAS that authorizes a copy's source.
const copyAuthTTL = 5 * time.Minute

// MaxReadSASTTL caps the validity of a read link to a clean document.
const MaxReadSASTTL = 5 * time.Minute

// Pin copies version etag of src into container to (same shard, same blob
// name) and returns the copy's ETag. It fails with KindConflict when src is
// no longer that version (written again since it was read) or is gone.
func (s *Store) Pin(ctx context.Context, src upload.BlobRef, etag, to string) (string, error) {
	if etag == "" {
		return "", domain.E(domain.KindInternal, "pin without a source version")
	}
	dst := upload.BlobRef{Account: src.Account, Container: to, Name: src.Name}
	newETag, err := s.copyVersion(ctx, src, etag, dst)
	if err != nil {
		if isStatus(err, http.StatusPreconditionFailed) || isStatus(err, http.StatusNotFound) || bloberror.HasCode(err, bloberror.CannotVerifyCopySource) {
			return "", domain.Wrap(domain.KindConflict, err, "the document %q changed while the request was being accepted; submit again", src.Name)
		}
		return "", translate(err, "could not pin the document")
	}
	return newETag, nil
}

// copyVersion copies version etag of src to dst with Copy Blob From URL,
// authorizing the source with a short read SAS.
func (s *Store) copyVersion(ctx context.Context, src upload.BlobRef, etag string, dst upload.BlobRef) (string, error) {
	a, err := s.account(dst)
	if err != nil {
		return "", err
	}
	now := s.now().UTC()
	srcURL, err := s.sign(ctx, src, sas.BlobPermissions{Read: true}, now, now.Add(copyAuthTTL))
	if err != nil {
		return "", err
	}
	match := azcore.ETag(etag)
	resp, err := a.svc.NewContainerClient(dst.Container).NewBlobClient(dst.Name).CopyFromURL(ctx, srcURL, &blob.CopyFromURLOptions{
		SourceModifiedAccessConditions: &blob.SourceModifiedAccessConditions{SourceIfMatch: &match},
	})
	if err != nil {
		return "", err
	}
	if resp.ETag == nil {
		return "", nil
	}
	return string(*resp.ETag), nil
}

// Version returns the ETag of ref's committed blob, "" when there is none.
func (s *Store) Version(ctx context.Context, ref upload.BlobRef) (string, error) {
	a, err := s.account(ref)
	if err != nil {
		return "", err
	}
	props, err := a.svc.NewContainerClient(ref.Container).NewBlobClient(ref.Name).GetProperties(ctx, nil)
	if bloberror.HasCode(err, bloberror.BlobNotFound) || isStatus(err, http.StatusNotFound) {
		return "", nil
	}
	if err != nil {
		return "", translate(err, "could not read the document's properties")
	}
	if props.ETag == nil {
		return "", nil
	}
	return string(*props.ETag), nil
}

// ReadVersion reads version etag of ref ("" = whatever version is there)
// and returns its bytes and ETag. The length is checked before any byte is
// downloaded: a blob longer than max is KindTooLarge (with nothing read).
// Errors: KindNotFound when the blob is gone, KindStale when it is another
// version, KindTransient when storage is unavailable.
func (s *Store) ReadVersion(ctx context.Context, ref upload.BlobRef, etag string, max int64) ([]byte, string, error) {
	a, err := s.account(ref)
	if err != nil {
		return nil, "", err
	}
	bc := a.svc.NewContainerClient(ref.Container).NewBlobClient(ref.Name)
	props, err := bc.GetProperties(ctx, nil)
	if err != nil {
		return nil, "", s.readErr(err)
	}
	cur := ""
	if props.ETag != nil {
		cur = string(*props.ETag)
	}
	if etag != "" && cur != etag {
		return nil, cur, domain.E(domain.KindStale, "document %q is not the pinned version", ref.Name)
	}
	if props.ContentLength != nil && *props.ContentLength > max {
		return nil, cur, domain.E(domain.KindTooLarge, "document %q is %d bytes, more than %d", ref.Name, *props.ContentLength, max)
	}
	match := azcore.ETag(cur)
	resp, err := bc.DownloadStream(ctx, &blob.DownloadStreamOptions{AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: &match}}})
	if err != nil {
		return nil, cur, s.readErr(err)
	}
	defer resp.Body.Close()
	size := int64(0)
	if resp.ContentLength != nil {
		size = *resp.ContentLength
	}
	if size > max {
		return nil, cur, domain.E(domain.KindTooLarge, "document %q is %d bytes, more than %d", ref.Name, size, max)
	}
	// Exactly the advertised length, allocated once: a 25 MiB document
	// costs 25 MiB here, not the doubling of a growing buffer.
	buf := make([]byte, size)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		return nil, cur, translate(err, "could not read the document")
	}
	var one [1]byte
	if n, _ := resp.Body.Read(one[:]); n > 0 {
		return nil, cur, domain.E(domain.KindTooLarge, "document %q is longer than its Content-Length", ref.Name)
	}
	return buf, cur, nil
}

func (s *Store) readErr(err error) error {
	switch {
	case bloberror.HasCode(err, bloberror.BlobNotFound) || isStatus(err, http.StatusNotFound):
		return domain.Wrap(domain.KindNotFound, err, "document not found")
	case isStatus(err, http.StatusPreconditionFailed) || bloberror.HasCode(err, bloberror.ConditionNotMet):
		return domain.Wrap(domain.KindStale, err, "document is not the pinned version")
	}
	return translate(err, "could not read the document")
}

// Move copies version etag of ref to container to (same name) and then
// deletes ref if it is still that version. Run again after a crash it
// finishes the job: a source that is gone while the copy exists is done.
// Errors: KindStale when ref is another version, KindNotFound when neither
// ref nor the copy exists.
func (s *Store) Move(ctx context.Context, ref upload.BlobRef, etag, to string) error {
	a, err := s.account(ref)
	if err != nil {
		return err
	}
	dst := upload.BlobRef{Account: ref.Account, Container: to, Name: ref.Name}
	if _, err := s.copyVersion(ctx, ref, etag, dst); err != nil {
		if bloberror.HasCode(err, bloberror.BlobNotFound) || isStatus(err, http.StatusNotFound) || bloberror.HasCode(err, bloberror.CannotVerifyCopySource) {
			if v, verr := s.Version(ctx, dst); verr == nil && v != "" {
				return nil
			}
			return domain.Wrap(domain.KindNotFound, err, "document %q not found", ref.Name)
		}
		if isStatus(err, http.StatusPreconditionFailed) {
			return domain.Wrap(domain.KindStale, err, "document %q is not the pinned version", ref.Name)
		}
		return translate(err, "could not move the document")
	}
	match := azcore.ETag(etag)
	_, err = a.svc.NewContainerClient(ref.Container).NewBlobClient(ref.Name).Delete(ctx, &blob.DeleteOptions{
		AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: &match}},
	})
	if err != nil && !bloberror.HasCode(err, bloberror.BlobNotFound) && !isStatus(err, http.StatusNotFound) {
		return translate(err, "could not remove the scanned document from the landing container")
	}
	return nil
}

// Delete removes ref whatever its version (a stray blob no upload
// declared); a missing blob is not an error.
func (s *Store) Delete(ctx context.Context, ref upload.BlobRef) error {
	a, err := s.account(ref)
	if err != nil {
		return err
	}
	_, err = a.svc.NewContainerClient(ref.Container).NewBlobClient(ref.Name).Delete(ctx, nil)
	if err != nil && !bloberror.HasCode(err, bloberror.BlobNotFound) && !isStatus(err, http.StatusNotFound) {
		return translate(err, "could not delete the blob")
	}
	return nil
}

// SignRead returns ref's URL with a read-only SAS for that one blob, served
// as contentType (the scanned, declared type — never the type the client
// stored on the blob) with Content-Disposition: attachment, valid
// for ttl (at most MaxReadSASTTL). Errors: KindNotFound when the blob does
// not exist. The URL is a secret: never log it.
func (s *Store) SignRead(ctx context.Context, ref upload.BlobRef, ttl time.Duration, contentType string) (string, error) {
	if ttl <= 0 || ttl > MaxReadSASTTL {
		ttl = MaxReadSASTTL
	}
	if v, err := s.Version(ctx, ref); err != nil {
		return "", err
	} else if v == "" {
		return "", domain.E(domain.KindNotFound, "document not found")
	}
	now := s.now().UTC()
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	return s.sign(ctx, ref, sas.BlobPermissions{Read: true}, now, now.Add(ttl), func(v *sas.BlobSignatureValues) {
		v.ContentType, v.ContentDisposition = contentType, "attachment"
	})
}
