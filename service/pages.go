package service

import (
	"encoding/base64"
	"strconv"
)

// defaultPageSize is the page of a list call without max_results. Every list is
// paged, so that no request can ask for a whole table (100,000 users were 76 MB of
// JSON); MLflow's clients and ours follow next_page_token.
const defaultPageSize = 100

// pageID is the type of the ids a list pages by: 32-bit for users, grants and
// roles, 64-bit for the audit trail.
type pageID interface{ int32 | int64 }

// pageRequest reads max_results (absent or 0: defaultPageSize) and page_token, the
// opaque form of the last id already returned; a token whose id does not fit ID
// is refused.
func pageRequest[ID pageID](maxResults int32, token string) (after ID, limit int, err error) {
	if maxResults < 0 || maxResults > maxPageSize {
		return 0, 0, apiError(codeInvalidParameter, "Invalid value %d for parameter 'max_results': it must be between 1 and %d.", maxResults, maxPageSize)
	}
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		id, convErr := strconv.ParseInt(string(raw), 10, 64)
		if err != nil || convErr != nil || id < 0 || int64(ID(id)) != id {
			return 0, 0, apiError(codeInvalidParameter, "Invalid page_token '%s'.", quoted(token))
		}
		after = ID(id)
	}
	if maxResults == 0 {
		maxResults = defaultPageSize
	}
	return after, int(maxResults), nil
}

// pageToken is the token that continues after id.
func pageToken[ID pageID](id ID) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(int64(id), 10)))
}

// fetchSize is how many rows to ask the store for: one more than the page, to
// learn whether another page follows.
func fetchSize(limit int) int { return limit + 1 }

// trimPage cuts rows fetched with fetchSize to the page and returns the token of
// the next page, or "" when this is the last.
func trimPage[T any, ID pageID](rows []T, limit int, id func(T) ID) ([]T, string) {
	if len(rows) <= limit {
		return rows, ""
	}
	rows = rows[:limit]
	return rows, pageToken(id(rows[limit-1]))
}
