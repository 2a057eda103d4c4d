package service

import (
	"encoding/base64"
	"strconv"
)

// defaultPageSize is the page of a list call without max_results. Every list is
// paged, so that no request can ask for a whole table (100,000 users were 76 MB of
// JSON); MLflow's clients and ours follow next_page_token.
const defaultPageSize = 100

// pageRequest reads max_results (absent or 0: defaultPageSize) and page_token, the
// opaque form of the last id already returned.
func pageRequest(maxResults int32, token string) (after int32, limit int, err error) {
	if maxResults < 0 || maxResults > maxPageSize {
		return 0, 0, apiError(codeInvalidParameter, "Invalid value %d for parameter 'max_results': it must be between 1 and %d.", maxResults, maxPageSize)
	}
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		id, convErr := strconv.ParseInt(string(raw), 10, 32)
		if err != nil || convErr != nil || id < 0 {
			return 0, 0, apiError(codeInvalidParameter, "Invalid page_token '%s'.", quoted(token))
		}
		after = int32(id)
	}
	if maxResults == 0 {
		maxResults = defaultPageSize
	}
	return after, int(maxResults), nil
}

// pageToken is the token that continues after id.
func pageToken(id int32) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(int(id))))
}

// fetchSize is how many rows to ask the store for: one more than the page, to
// learn whether another page follows.
func fetchSize(limit int) int { return limit + 1 }

// trimPage cuts rows fetched with fetchSize to the page and returns the token of
// the next page, or "" when this is the last.
func trimPage[T any](rows []T, limit int, id func(T) int32) ([]T, string) {
	if len(rows) <= limit {
		return rows, ""
	}
	rows = rows[:limit]
	return rows, pageToken(id(rows[limit-1]))
}
