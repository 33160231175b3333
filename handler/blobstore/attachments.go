package blobstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/request"
	"github.com/profileflow/profileflow/handler/upload"
)

// AttachmentWriter streams attachments of the source design's multipart
// PATCH into the landing container: block by block, never the whole file in
// memory, refusing more than the limit.
type AttachmentWriter struct {
	s         *Store
	container string
}

// Attachments returns a writer into the landing container.
func (s *Store) Attachments(landing string) *AttachmentWriter {
	return &AttachmentWriter{s: s, container: landing}
}

// errTooLarge marks a stream that passed its limit.
var errTooLarge = errors.New("attachment exceeds the size limit")

type limited struct {
	r    io.Reader
	left int64
	h    hash.Hash
	n    int64
}

func (l *limited) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// One byte more than allowed tells an exact-size file from a larger one.
		var one [1]byte
		if n, _ := l.r.Read(one[:]); n > 0 {
			return 0, errTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	l.n += int64(n)
	l.h.Write(p[:n])
	return n, err
}

// PutAttachment writes one file part to "<scope>/<index>-<name>" in the
// incoming container of the shard chosen from scope (scope is the upload id
// the files are recorded under), with its content type, and returns the attachment
// with size and SHA-256.
func (w *AttachmentWriter) PutAttachment(ctx context.Context, profileID, scope string, index int, name, contentType string, r io.Reader, max int64) (request.Attachment, error) {
	accountURL := upload.ChooseShard(scope, w.s.order)
	a := w.s.accounts[accountURL]
	blobName := upload.BlobName(scope, index, name)
	bb := a.svc.NewContainerClient(w.container).NewBlockBlobClient(blobName)
	src := &limited{r: r, left: max, h: sha256.New()}
	ct := contentType
	resp, err := bb.UploadStream(ctx, src, &blockblob.UploadStreamOptions{
		BlockSize:   4 << 20,
		Concurrency: 2,
		HTTPHeaders: &blob.HTTPHeaders{BlobContentType: &ct},
		Metadata:    map[string]*string{"profileid": &profileID, "scope": &scope},
	})
	if errors.Is(err, errTooLarge) {
		_, _ = bb.Delete(context.WithoutCancel(ctx), nil)
		return request.Attachment{}, domain.E(domain.KindTooLarge, "attachment %q is larger than %d MiB", name, max>>20)
	}
	if err != nil {
		return request.Attachment{}, translate(err, "could not store the attachment")
	}
	if src.n == 0 {
		_, _ = bb.Delete(context.WithoutCancel(ctx), nil)
		return request.Attachment{}, domain.E(domain.KindInvalid, "attachment %q is empty", name)
	}
	etag := ""
	if resp.ETag != nil {
		etag = string(*resp.ETag)
	}
	return request.Attachment{
		Name: name, UploadID: scope, Account: accountURL, Source: w.container, SourceETag: etag, Blob: blobName, ContentType: contentType,
		Size: src.n, DeclaredSize: src.n, SHA256: hex.EncodeToString(src.h.Sum(nil)), Verdict: request.VerdictPending,
	}, nil
}

// Discard deletes attachments written by a call that was not accepted. It is
// best effort: a blob left behind is removed by the landing container's
// lifecycle rule.
func (w *AttachmentWriter) Discard(ctx context.Context, atts []request.Attachment) {
	for _, a := range atts {
		acc, ok := w.s.accounts[a.Account]
		if !ok || a.Source != w.container {
			continue
		}
		_, _ = acc.svc.NewContainerClient(a.Source).NewBlockBlobClient(a.Blob).Delete(ctx, nil)
	}
}
