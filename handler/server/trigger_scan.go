package server

import (
	"context"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/invoke"
	"github.com/profileflow/profileflow/handler/scan"
)

// ScanService scans a landed document (*scan.Service).
type ScanService interface {
	ScanLanded(ctx context.Context, ev scan.Landed) error
}

// scanAttachment is the blob-triggered ScanAttachment function
// (functions/ScanAttachment, path "<landing>/{uploadId}/{fileName}"). The
// blob's name comes from the path tokens (the host drops BlobTrigger) and
// its shard from Uri. The content the host sends is not used: the scan
// reads the version pinned at acceptance itself, conditionally, so what is
// scanned is exactly what was accepted. A payload without the tokens or
// Uri is logged and answered 2xx (retrying cannot fix it); KindTransient
// answers non-2xx so the host retries.
func (s *Server) scanAttachment(ctx context.Context, req *invoke.Request) (invoke.Response, error) {
	b := req.Blob("document")
	ev := scan.Landed{}
	var err error
	if ev.UploadID, err = b.Token("uploadId").Get(); err != nil {
		return invoke.Response{}, domain.Wrap(domain.KindInvalid, err, "blob trigger without {uploadId}")
	}
	if ev.FileName, err = b.Token("fileName").Get(); err != nil {
		return invoke.Response{}, domain.Wrap(domain.KindInvalid, err, "blob trigger without {fileName}")
	}
	if ev.URI, err = b.URI.Get(); err != nil {
		return invoke.Response{}, domain.Wrap(domain.KindInvalid, err, "blob trigger without Uri")
	}
	if err := s.Scans.ScanLanded(ctx, ev); err != nil {
		return invoke.Response{}, err
	}
	return invoke.Response{Logs: []string{"scanned " + ev.UploadID + "/" + ev.FileName}}, nil
}
