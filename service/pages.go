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
	id, limit, err := pageRequestOf(maxResults, token, 32)
	return int32(id), limit, err
}

// pageRequest64 is pageRequest for the audit trail, whose ids are 64-bit.
func pageRequest64(maxResults int32, token string) (after int64, limit int, err error) {
	return pageRequestOf(maxResults, token, 64)
}

// pageRequestOf is pageRequest for ids of bits bits.
func pageRequestOf(maxResults int32, token string, bits int) (after int64, limit int, err error) {
	if maxResults < 0 || maxResults > maxPageSize {
		return 0, 0, apiError(codeInvalidParameter, "Invalid value %d for parameter 'max_results': it must be between 1 and %d.", maxResults, maxPageSize)
	}
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		id, convErr := strconv.ParseInt(string(raw), 10, bits)
		if err != nil || convErr != nil || id < 0 {
			return 0, 0, apiError(codeInvalidParameter, "Invalid page_token '%s'.", quoted(token))
		}
		after = id
	}
	if maxResults == 0 {
		maxResults = defaultPageSize
	}
	return after, int(maxResults), nil
}

// pageToken is the token that continues after id.
func pageToken(id int32) string { return pageTokenOf(int64(id)) }

// pageTokenOf is pageToken for any id.
func pageTokenOf(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(id, 10)))
}

// fetchSize is how many rows to ask the store for: one more than the page, to
// learn whether another page follows.
func fetchSize(limit int) int { return limit + 1 }

// trimPage cuts rows fetched with fetchSize to the page and returns the token of
// the next page, or "" when this is the last.
func trimPage[T any, ID int32 | int64](rows []T, limit int, id func(T) ID) ([]T, string) {
	if len(rows) <= limit {
		return rows, ""
	}
	rows = rows[:limit]
	return rows, pageTokenOf(int64(id(rows[limit-1])))
}
