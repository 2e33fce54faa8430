package store

import "context"

// Claims make sure that coordinators sharing one corpus never train the
// same model code twice: before training, a coordinator claims the code id
// in the database, and only the holder of the claim trains it.
type Claims interface {
	// ClaimCode claims codeID for holder (a loop id, or another stable
	// name of one coordinator's work). It reports true when holder holds
	// the claim now (claimed by this call or earlier by the same holder,
	// as on resume) and false when another holder has it.
	ClaimCode(ctx context.Context, codeID, holder string) (bool, error)
}
