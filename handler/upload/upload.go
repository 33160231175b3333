// Package upload is the domain of direct-to-blob uploads: it validates what a
// client declares, plans fixed-size blocks with deterministic block ids (so a
// client can resume after a reload), picks the storage shard, keeps upload
// sessions through a SessionStore, and asks a BlobSigner for a SAS that
// covers exactly one blob. Attachment bytes never pass through here.
package upload

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
)

// Block sizes a plan may use, and the default.
const (
	MinBlockSize     = 1 << 20
	MaxBlockSize     = 8 << 20
	DefaultBlockSize = 4 << 20
	// MaxSASTTL caps the validity of an upload SAS and of its session.
	MaxSASTTL = 30 * time.Minute
	// ClockSkew back-dates the SAS start so slightly-off clocks still accept it.
	ClockSkew = 5 * time.Minute
)

// Session is one upload: up to two files declared by the owner of a profile,
// stored (container `uploads`, pk /id) until it expires.
type Session struct {
	ID        string    `json:"id"`
	ProfileID string    `json:"profileId"`
	Owner     string    `json:"owner"`   // subject that created it
	Account   string    `json:"account"` // blob service URL of the shard
	Container string    `json:"container"`
	BlockSize int64     `json:"blockSize"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	Files     []File    `json:"files"`
	// RequestID is the accepted change request the files are evidence of
	// ("" until a PATCH names the upload). An upload serves one request.
	RequestID string     `json:"requestId,omitempty"`
	ClaimedAt *time.Time `json:"claimedAt,omitempty"`
	// ServerWritten marks a session the handler created for files it
	// streamed itself (the multipart PATCH); no SAS was ever issued for it.
	ServerWritten bool `json:"serverWritten,omitempty"`
	// BlobsDeletedAt is when the sweeper deleted the blobs of a session
	// that expired unclaimed (see Expirer); nil before.
	BlobsDeletedAt *time.Time `json:"blobsDeletedAt,omitempty"`
	// ETag is the store's concurrency token.
	ETag string `json:"-"`
}

// File is one declared file of a session.
type File struct {
	Index       int    `json:"index"`
	Name        string `json:"name"` // NFC-normalized, validated
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"` // declared size in bytes
	BlobName    string `json:"blobName"`
	BlockCount  int    `json:"blockCount"`
	// Account is the blob service URL of the shard holding BlobName (in the
	// incoming container, where the client writes). Set on the files CommittedFiles returns.
	Account string `json:"account,omitempty"`
}

// Expired reports whether the session's upload window has closed at now.
func (s Session) Expired(now time.Time) bool { return !now.Before(s.ExpiresAt) }

// Ref is the blob of file f in this session.
func (s Session) Ref(f File) BlobRef {
	return BlobRef{Account: s.Account, Container: s.Container, Name: f.BlobName}
}

// BlobRef names one blob on one shard.
type BlobRef struct {
	Account   string // blob service URL, one of the configured shards
	Container string
	Name      string
}

// BlockList is what storage holds for one blob.
type BlockList struct {
	Exists        bool  // the blob has been committed (Put Block List or Put Blob)
	CommittedSize int64 // bytes of the committed blob
	ContentType   string
	ETag          string // of the committed version, as storage reports it
	ContentMD5    []byte // Content-MD5 of the committed blob, when storage has one
	Committed     []Block
	Uncommitted   []Block
}

// Block is one staged or committed block.
type Block struct {
	ID   string
	Size int64
}

// SessionStore keeps upload sessions. CreateSession fails with KindConflict
// when the id exists; GetSession with KindNotFound when it does not;
// ReplaceSession with KindStale when s.ETag is not the stored one;
// throttling or unavailability is KindTransient.
type SessionStore interface {
	CreateSession(ctx context.Context, s Session) (Session, error)
	GetSession(ctx context.Context, id string) (Session, error)
	ReplaceSession(ctx context.Context, s Session) (Session, error)
}

// BlobSigner issues a URL carrying a SAS that allows create+write on exactly
// the one blob ref until expiry (start back-dated by ClockSkew).
type BlobSigner interface {
	SignUpload(ctx context.Context, ref BlobRef, expiry time.Time) (string, error)
}

// BlobInspector reads a blob's block list with the server's own credential.
// A blob with nothing staged or committed yields an empty BlockList, no error.
type BlobInspector interface {
	BlockList(ctx context.Context, ref BlobRef) (BlockList, error)
}

// Config holds the upload settings.
type Config struct {
	Accounts  []string      // blob service URLs of the shards (UPLOAD_ACCOUNTS)
	Container string        // container the client SAS writes to (UPLOAD_CONTAINER_INCOMING)
	BlockSize int64         // UPLOAD_BLOCK_SIZE, 1–8 MiB
	TTL       time.Duration // UPLOAD_SAS_TTL, ≤ 30m
}

// Service runs uploads.
type Service struct {
	store     SessionStore
	signer    BlobSigner
	inspector BlobInspector
	cfg       Config
	// Now and NewID are replaceable in tests.
	Now   func() time.Time
	NewID func() string
}

// NewService checks cfg and builds a Service.
func NewService(store SessionStore, signer BlobSigner, inspector BlobInspector, cfg Config) (*Service, error) {
	if len(cfg.Accounts) == 0 {
		return nil, fmt.Errorf("upload: no upload accounts configured (UPLOAD_ACCOUNTS)")
	}
	if cfg.Container == "" {
		return nil, fmt.Errorf("upload: no landing container configured")
	}
	if cfg.BlockSize == 0 {
		cfg.BlockSize = DefaultBlockSize
	}
	if cfg.BlockSize < MinBlockSize || cfg.BlockSize > MaxBlockSize {
		return nil, fmt.Errorf("upload: block size %d outside %d–%d bytes (UPLOAD_BLOCK_SIZE)", cfg.BlockSize, MinBlockSize, MaxBlockSize)
	}
	if cfg.TTL <= 0 || cfg.TTL > MaxSASTTL {
		return nil, fmt.Errorf("upload: SAS validity %s must be > 0 and ≤ %s (UPLOAD_SAS_TTL)", cfg.TTL, MaxSASTTL)
	}
	return &Service{store: store, signer: signer, inspector: inspector, cfg: cfg, Now: time.Now, NewID: NewUploadID}, nil
}

// NewUploadID returns a random 128-bit id as 32 lower-case hex digits.
func NewUploadID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b[:])
}

var uploadIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// ValidUploadID reports whether id has the shape NewUploadID produces.
func ValidUploadID(id string) bool { return uploadIDPattern.MatchString(id) }

// BlockCount is the number of blocks of size blockSize covering size bytes.
func BlockCount(size, blockSize int64) int {
	return int((size + blockSize - 1) / blockSize)
}

// BlockID is the deterministic block id of block blockIndex of file
// fileIndex: base64 of "<uploadId>:<fileIndex>:<blockIndex, 5 digits>".
// For a 32-digit upload id every id is 40 bytes before encoding and 56
// characters after, so all ids of a blob have the same length, as Put Block
// requires. It contains '+' and '/' at times: URL-encode it in the query.
func BlockID(uploadID string, fileIndex, blockIndex int) string {
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "%s:%d:%05d", uploadID, fileIndex, blockIndex))
}

// BlockIDs lists every block id of a file, in commit order.
func BlockIDs(uploadID string, fileIndex, blockCount int) []string {
	ids := make([]string, blockCount)
	for i := range ids {
		ids[i] = BlockID(uploadID, fileIndex, i)
	}
	return ids
}

// ChooseShard picks the account for an upload deterministically from its id
// (FNV-1a modulo the number of accounts).
func ChooseShard(uploadID string, accounts []string) string {
	h := fnv.New32a()
	h.Write([]byte(uploadID))
	return accounts[h.Sum32()%uint32(len(accounts))]
}

// BlobName is the landing blob of file index in an upload:
// "<uploadId>/<index>-<name>", the name reduced to URL-safe ASCII.
func BlobName(uploadID string, index int, name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return fmt.Sprintf("%s/%d-%s", uploadID, index, b.String())
}

// Plan is the answer to a new upload.
type Plan struct {
	UploadID  string     `json:"uploadId"`
	ExpiresAt time.Time  `json:"expiresAt"`
	Files     []FilePlan `json:"files"`
}

// FilePlan tells a client how to upload one file: Put Block for each id in
// BlockIDs (block i covers bytes [i*BlockSize, min(size,(i+1)*BlockSize)))
// with a Content-MD5 header, then Put Block List of all ids in order with
// RequiredHeaders.
type FilePlan struct {
	Name            string            `json:"name"`
	ContentType     string            `json:"contentType"`
	Size            int64             `json:"size"`
	UploadURL       string            `json:"uploadUrl"`
	BlockSize       int64             `json:"blockSize"`
	BlockCount      int               `json:"blockCount"`
	BlockIDs        []string          `json:"blockIds"`
	BlockChecksum   string            `json:"blockChecksum"`   // header each Put Block must carry
	RequiredHeaders map[string]string `json:"requiredHeaders"` // headers of Put Block List
}

// State is an upload's progress as storage reports it.
type State struct {
	UploadID  string    `json:"uploadId"`
	ExpiresAt time.Time `json:"expiresAt"`
	// Request is the status URL of the request the upload was submitted
	// with; a submitted upload cannot be named by another PATCH.
	Request string      `json:"request,omitempty"`
	Files   []FileState `json:"files"`
}

// FileState is one file's progress. UploadURL (a fresh SAS with the
// session's expiry) and the block plan are repeated for files not yet
// committed, so a client that lost the plan can still resume.
type FileState struct {
	Name          string `json:"name"`
	ContentType   string `json:"contentType"`
	Size          int64  `json:"size"`
	Committed     bool   `json:"committed"`
	CommittedSize int64  `json:"committedSize,omitempty"`
	// Ready is exactly the check a PATCH naming the upload applies to this
	// file (File.Check); Problem says why a committed file is not ready.
	Ready             bool              `json:"ready"`
	Problem           string            `json:"problem,omitempty"`
	UncommittedBlocks []string          `json:"uncommittedBlocks"`
	UploadURL         string            `json:"uploadUrl,omitempty"`
	BlockSize         int64             `json:"blockSize"`
	BlockCount        int               `json:"blockCount"`
	BlockIDs          []string          `json:"blockIds"`
	RequiredHeaders   map[string]string `json:"requiredHeaders,omitempty"`
}

// Resume turns a file's state into the plan to finish it and the set of
// blocks already staged (to skip).
func (s FileState) Resume() (FilePlan, map[string]bool) {
	skip := map[string]bool{}
	for _, id := range s.UncommittedBlocks {
		skip[id] = true
	}
	return FilePlan{Name: s.Name, ContentType: s.ContentType, Size: s.Size, UploadURL: s.UploadURL,
		BlockSize: s.BlockSize, BlockCount: s.BlockCount, BlockIDs: s.BlockIDs, RequiredHeaders: s.RequiredHeaders}, skip
}

// Create starts an upload for profileID on behalf of p, who must own it (the
// caller checks ownership of the profile). Bad specs are KindInvalid.
func (s *Service) Create(ctx context.Context, p domain.Principal, profileID string, specs []FileSpec) (Plan, error) {
	if p.Subject == "" {
		return Plan{}, domain.E(domain.KindUnauthorized, "no caller identity")
	}
	specs, err := ValidateSpecs(specs)
	if err != nil {
		return Plan{}, err
	}
	now := s.Now().UTC()
	id := s.NewID()
	sess := Session{
		ID: id, ProfileID: profileID, Owner: p.Subject,
		Account:   ChooseShard(id, s.cfg.Accounts),
		Container: s.cfg.Container,
		BlockSize: s.cfg.BlockSize,
		CreatedAt: now,
		ExpiresAt: now.Add(s.cfg.TTL).Truncate(time.Second),
	}
	for i, f := range specs {
		sess.Files = append(sess.Files, File{
			Index: i, Name: f.Name, ContentType: f.ContentType, Size: f.Size,
			BlobName:   BlobName(id, i, f.Name),
			BlockCount: BlockCount(f.Size, s.cfg.BlockSize),
		})
	}
	plan := Plan{UploadID: id, ExpiresAt: sess.ExpiresAt}
	for _, f := range sess.Files {
		u, err := s.signer.SignUpload(ctx, sess.Ref(f), sess.ExpiresAt)
		if err != nil {
			return Plan{}, err
		}
		plan.Files = append(plan.Files, FilePlan{
			Name: f.Name, ContentType: f.ContentType, Size: f.Size,
			UploadURL: u, BlockSize: sess.BlockSize, BlockCount: f.BlockCount,
			BlockIDs:        BlockIDs(id, f.Index, f.BlockCount),
			BlockChecksum:   "Content-MD5",
			RequiredHeaders: commitHeaders(f),
		})
	}
	if _, err := s.store.CreateSession(ctx, sess); err != nil {
		return Plan{}, err
	}
	slog.InfoContext(ctx, "upload session created", "uploadId", id, "profileId", profileID, "files", len(sess.Files), "account", redactAccount(sess.Account), "expiresAt", sess.ExpiresAt)
	return plan, nil
}

func commitHeaders(f File) map[string]string {
	return map[string]string{"x-ms-blob-content-type": f.ContentType}
}

// redactAccount keeps only scheme and host of an account URL for logs.
func redactAccount(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	return u
}

// session loads an upload and checks it belongs to p and profileID; an
// upload of someone else is reported as not found (its existence is not
// revealed), an expired one as KindGone.
func (s *Service) session(ctx context.Context, p domain.Principal, profileID, uploadID string) (Session, error) {
	if !ValidUploadID(uploadID) {
		return Session{}, domain.E(domain.KindNotFound, "upload not found")
	}
	sess, err := s.store.GetSession(ctx, uploadID)
	if err != nil {
		if domain.Is(err, domain.KindNotFound) {
			return Session{}, domain.E(domain.KindNotFound, "upload not found")
		}
		return Session{}, err
	}
	if sess.Owner != p.Subject || sess.ProfileID != profileID {
		return Session{}, domain.E(domain.KindNotFound, "upload not found")
	}
	if sess.Expired(s.Now()) {
		return Session{}, domain.E(domain.KindGone, "upload %s expired at %s; start a new upload", uploadID, sess.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return sess, nil
}

// State reports an upload's progress from storage (block lists read with
// the server's credential) so a client can resume.
func (s *Service) State(ctx context.Context, p domain.Principal, profileID, uploadID string) (State, error) {
	sess, err := s.session(ctx, p, profileID, uploadID)
	if err != nil {
		return State{}, err
	}
	st := State{UploadID: sess.ID, ExpiresAt: sess.ExpiresAt}
	if sess.RequestID != "" {
		st.Request = "/api/v1/requests/" + sess.RequestID
	}
	for _, f := range sess.Files {
		bl, err := s.inspector.BlockList(ctx, sess.Ref(f))
		if err != nil {
			return State{}, err
		}
		fs := FileState{
			Name: f.Name, ContentType: f.ContentType, Size: f.Size,
			Committed: bl.Exists, UncommittedBlocks: []string{},
			BlockSize: sess.BlockSize, BlockCount: f.BlockCount,
			BlockIDs: BlockIDs(sess.ID, f.Index, f.BlockCount),
		}
		if bl.Exists {
			fs.CommittedSize = bl.CommittedSize
		}
		if err := f.Check(bl); err != nil {
			if bl.Exists {
				fs.Problem = message(err)
			}
		} else {
			fs.Ready = true
		}
		planned := map[string]bool{}
		for _, id := range fs.BlockIDs {
			planned[id] = true
		}
		for _, b := range bl.Uncommitted {
			if planned[b.ID] {
				fs.UncommittedBlocks = append(fs.UncommittedBlocks, b.ID)
			}
		}
		if !bl.Exists {
			u, err := s.signer.SignUpload(ctx, sess.Ref(f), sess.ExpiresAt)
			if err != nil {
				return State{}, err
			}
			fs.UploadURL = u
			fs.RequiredHeaders = commitHeaders(f)
		}
		st.Files = append(st.Files, fs)
	}
	return st, nil
}

// Committed is a file of an upload as storage holds it when a PATCH names
// the upload: the declared file, its shard and the committed version read
// with the server's credential (what is pinned at acceptance).
type Committed struct {
	File
	Account    string // blob service URL of the shard
	Container  string // where the client wrote it
	ETag       string // the version read
	Size       int64  // committed bytes (≤ the declared File.Size)
	ContentMD5 []byte // when storage has one
}

// Check is the one rule a committed file must meet to be submitted, however
// it was written (Put Block List of the planned blocks or a single Put
// Blob): committed, not empty and no longer than declared (a SAS cannot cap
// the size). The declared and the real content type are checked by the
// scan; the content type stored on the blob is never trusted. Errors:
// KindConflict while not committed, KindInvalid otherwise.
func (f File) Check(bl BlockList) error {
	switch {
	case !bl.Exists:
		return domain.E(domain.KindConflict, "file %q is not committed yet", f.Name)
	case bl.CommittedSize <= 0:
		return domain.E(domain.KindInvalid, "file %q is empty", f.Name)
	case bl.CommittedSize > f.Size:
		return domain.E(domain.KindInvalid, "file %q is %d bytes, more than the %d declared", f.Name, bl.CommittedSize, f.Size)
	}
	return nil
}

// message is the caller-safe text of a domain error.
func message(err error) string {
	if de, ok := err.(*domain.Error); ok {
		return de.Msg
	}
	return err.Error()
}

// CommittedFiles returns the files of an upload for the PATCH that refers to
// it: the upload must belong to p and profileID (KindNotFound otherwise), be
// unexpired (KindGone), not be submitted with another request already
// (KindConflict), and every file must pass File.Check. The caller pins
// the returned versions (Claim, then a server-side copy) and the scan
// checks their content.
func (s *Service) CommittedFiles(ctx context.Context, p domain.Principal, profileID, uploadID string) ([]Committed, error) {
	sess, err := s.session(ctx, p, profileID, uploadID)
	if err != nil {
		return nil, err
	}
	if sess.RequestID != "" {
		return nil, usedBy(uploadID, sess.RequestID)
	}
	files := make([]Committed, 0, len(sess.Files))
	for _, f := range sess.Files {
		bl, err := s.inspector.BlockList(ctx, sess.Ref(f))
		if err != nil {
			return nil, err
		}
		if err := f.Check(bl); err != nil {
			return nil, err
		}
		f.Account = sess.Account
		files = append(files, Committed{File: f, Account: sess.Account, Container: sess.Container, ETag: bl.ETag, Size: bl.CommittedSize, ContentMD5: bl.ContentMD5})
	}
	return files, nil
}

func usedBy(uploadID, requestID string) error {
	return domain.E(domain.KindConflict, "upload %s was already submitted with request %s; start a new upload for another change", uploadID, requestID)
}
