package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/profileflow/profileflow/handler/blobstore"
	"github.com/profileflow/profileflow/handler/clamav"
	"github.com/profileflow/profileflow/handler/config"
	"github.com/profileflow/profileflow/handler/request"
	"github.com/profileflow/profileflow/handler/scan"
	"github.com/profileflow/profileflow/handler/upload"
)

// wireScan builds the ScanAttachment use case: the pipeline with the
// antivirus engine SCAN_ENGINE names (clamd at CLAMAV_ADDRESS, or none for
// local runs without clamd, logged loudly and recorded in every verdict),
// over the upload sessions, the request records and the blob shards.
func wireScan(cfg *config.Config, uploads *upload.Service, blobs *blobstore.Store, requests *request.Service, log *slog.Logger) (*scan.Service, error) {
	opts := scan.Options{}
	switch engine := cfg.String("SCAN_ENGINE"); engine {
	case "clamav":
		addr := cfg.String("CLAMAV_ADDRESS")
		if addr == "" {
			return nil, fmt.Errorf("setting CLAMAV_ADDRESS is required with SCAN_ENGINE=clamav")
		}
		timeout, err := cfg.Duration("CLAMAV_TIMEOUT")
		if err != nil {
			return nil, err
		}
		c, err := clamav.New(addr, clamav.Options{Timeout: timeout})
		if err != nil {
			return nil, fmt.Errorf("setting CLAMAV_ADDRESS: %w", err)
		}
		opts.Engine, opts.EngineName = c, "ClamAV"
	case "none":
		log.Warn("SCAN_ENGINE=none: documents are NOT checked for malware (structure and type checks only); every verdict records engine none. Use only for local runs without clamd.")
	default:
		return nil, fmt.Errorf("setting SCAN_ENGINE: %q is not clamav or none", engine)
	}
	return &scan.Service{
		Uploads:    uploads,
		Documents:  requests,
		Blobs:      blobs,
		Scanner:    scan.New(opts),
		Accounts:   cfg.List("UPLOAD_ACCOUNTS"),
		Landing:    cfg.String("UPLOAD_CONTAINER_LANDING"),
		Clean:      cfg.String("UPLOAD_CONTAINER_CLEAN"),
		Quarantine: cfg.String("UPLOAD_CONTAINER_QUARANTINE"),
		Log:        log,
	}, nil
}

// evidence pins a request's documents: the upload session is claimed for
// the request (upload.Service) and each accepted version copied into the
// landing container (blobstore.Store).
type evidence struct {
	uploads *upload.Service
	blobs   *blobstore.Store
}

func (e evidence) Claim(ctx context.Context, uploadID, requestID string) error {
	return e.uploads.Claim(ctx, uploadID, requestID)
}

func (e evidence) Release(ctx context.Context, uploadID, requestID string) error {
	return e.uploads.Release(ctx, uploadID, requestID)
}

func (e evidence) Pin(ctx context.Context, src upload.BlobRef, etag, to string) (string, error) {
	return e.blobs.Pin(ctx, src, etag, to)
}
