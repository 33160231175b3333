package mfa

import "time"

// SetSettleWait shortens how long a check the provider found gone waits for
// other checks in flight (3 s in production), for tests of the give-up.
func SetSettleWait(s *Service, d time.Duration) { s.settleWait = d }
