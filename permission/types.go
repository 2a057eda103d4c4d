package permission

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The resource types MLflow added after 3.12 (see Types).
const (
	MCPServer              ResourceType = "mcp_server"
	Workspace              ResourceType = "workspace"
	Skill                  ResourceType = "skill"
	Run                    ResourceType = "run"
	Trace                  ResourceType = "trace"
	Assessment             ResourceType = "assessment"
	LoggedModel            ResourceType = "logged_model"
	ReviewQueue            ResourceType = "review_queue"
	RegisteredModelVersion ResourceType = "registered_model_version"
	PromptVersion          ResourceType = "prompt_version"
	ScorerVersion          ResourceType = "scorer_version"
	MCPServerVersion       ResourceType = "mcp_server_version"
)

// TypeInfo is what mlflow-auth knows of one resource type MLflow guards.
type TypeInfo struct {
	Type ResourceType
	// PerID: a grant may name one id; otherwise only Wildcard (MLflow's
	// WILDCARD_ONLY grain: sub-resources, whose per-id grants search could not
	// enforce, and the workspace slot, named by the role's workspace).
	PerID bool
	// Since is the first MLflow version that guards the type.
	Since string
	// Params are the classic REST parameters that name the resource, if any.
	Params []string
	// Label names the type in MLflow's classic grant messages ("Gateway secret").
	Label string
	// canonical puts an id in its one stored form (nil: as given).
	canonical func(id string) (string, error)
	// parse refuses an id MLflow cannot read as one of the type's (nil: any).
	parse func(id string) error
	// levels a role may hold on the type, and how MLflow's refusal words them
	// (nil: resourceLevels, "Resource-level").
	levels     []Level
	levelsWord string
}

// Types is the one table of resource types, in MLflow's declaration order.
var Types = []TypeInfo{
	{Type: Workspace, Since: "3.10", levels: []Level{Use, Manage}, levelsWord: "Workspace-wide"},
	{Type: Experiment, PerID: true, Since: "2.5", Params: []string{"experiment_id"}, Label: "Experiment", canonical: canonicalExperiment},
	{Type: RegisteredModel, PerID: true, Since: "2.5", Params: []string{"name"}},
	{Type: Prompt, PerID: true, Since: "3.13"},
	{Type: Scorer, PerID: true, Since: "3.7", Params: []string{"experiment_id", "scorer_name"}, canonical: canonicalScorerID},
	{Type: GatewaySecret, PerID: true, Since: "3.9", Params: []string{"secret_id"}, Label: "Gateway secret"},
	{Type: GatewayEndpoint, PerID: true, Since: "3.9", Params: []string{"endpoint_id"}, Label: "Gateway endpoint"},
	{Type: GatewayModelDefinition, PerID: true, Since: "3.9", Params: []string{"model_definition_id"}, Label: "Gateway model definition"},
	{Type: MCPServer, PerID: true, Since: "3.15"},
	{Type: Skill, PerID: true, Since: "3.18", parse: parseSkillID, levels: []Level{Read, Edit, Manage, Deny}, levelsWord: "Skill Registry"},
	{Type: Run, Since: "3.17"},
	{Type: Trace, Since: "3.17"},
	{Type: Assessment, Since: "3.17"},
	{Type: LoggedModel, Since: "3.17"},
	{Type: ReviewQueue, Since: "3.17"},
	{Type: RegisteredModelVersion, Since: "3.17"},
	{Type: PromptVersion, Since: "3.17"},
	{Type: ScorerVersion, Since: "3.17"},
	{Type: MCPServerVersion, Since: "3.17"},
}

// resourceLevels are what a role may hold on most types (NO_PERMISSIONS never:
// an absent grant says it).
var resourceLevels = []Level{Read, Use, Edit, Manage, Deny}

// Lookup returns the row of a type name, checked with MLflow's message.
func Lookup(name string) (TypeInfo, error) {
	i := slices.IndexFunc(Types, func(t TypeInfo) bool { return string(t.Type) == name })
	if i < 0 {
		names := make([]ResourceType, len(Types))
		for i, t := range Types {
			names[i] = t.Type
		}
		return TypeInfo{}, fmt.Errorf("Invalid resource type '%s'. Valid resource types are: %s", name, pyTuple(names, true))
	}
	return Types[i], nil
}

// CheckPattern refuses a pattern the type's grain does not allow, as MLflow does:
// such a grant would be stored and then never match.
func (t TypeInfo) CheckPattern(pattern string) error {
	if pattern != Wildcard && !t.PerID {
		return fmt.Errorf("Invalid resource_pattern '%s' for resource_type='%s'. This resource type supports only wildcard ('*') grants.", pattern, t.Type)
	}
	return t.CheckID(pattern)
}

// CheckID refuses an id the type cannot name, as MLflow does ("*" names all).
func (t TypeInfo) CheckID(id string) error {
	if t.parse == nil || id == Wildcard {
		return nil
	}
	return t.parse(id)
}

// Canonical is id in the one form it is stored and looked up in.
func (t TypeInfo) Canonical(id string) (string, error) {
	if err := t.CheckID(id); err != nil {
		return "", err
	}
	if t.canonical == nil || id == Wildcard {
		return id, nil
	}
	return t.canonical(id)
}

// parseSkillID accepts MLflow 3.18's two spellings of a skill, "name" and
// "@organization/name", each already in the form MLflow stores.
func parseSkillID(id string) error {
	name, ok := id, true
	if org, rest, found := strings.Cut(strings.TrimPrefix(id, "@"), "/"); strings.HasPrefix(id, "@") {
		name, ok = rest, found && org != ""
	}
	if !ok || name == "" || strings.Contains(name, "/") {
		return errors.New("Invalid Skill Registry resource_id. Expected 'name' or '@organization/name'.")
	}
	return nil
}

// checkLevel refuses a level no role may hold on the type, in MLflow's words.
func (t TypeInfo) checkLevel(l Level) error {
	levels, word := t.levels, t.levelsWord
	if levels == nil {
		levels, word = resourceLevels, "Resource-level"
	}
	if !slices.Contains(levels, l) {
		return fmt.Errorf("Invalid permission '%s' for resource_type='%s'. %s grants accept only: %s.", l, t.Type, word, pyTuple(levels, true))
	}
	return nil
}

func canonicalScorerID(id string) (string, error) {
	experimentID, name, err := SplitScorerID(id)
	if err != nil {
		return "", err
	}
	return ScorerResource(experimentID, name).ID, nil
}

// GuardedBy reports whether MLflow of version ("3.12", "3.17.2") guards the type.
func (t TypeInfo) GuardedBy(version string) bool {
	return compareVersions(t.Since, version) <= 0
}

// compareVersions orders dotted release numbers; a missing part counts as 0.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(as), len(bs)) {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if c := cmp.Compare(x, y); c != 0 {
			return c
		}
	}
	return 0
}

func canonicalExperiment(id string) (string, error) { return CanonicalExperimentID(id), nil }
