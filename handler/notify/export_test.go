package notify

// SentKey is sentKey, for the tests of package notify_test.
var SentKey = sentKey
