namespace CrewPlatform.FakeCrewApi.Apis;

/// <summary>
/// Observing and steering the fake: <c>GET /stats</c>, <c>GET /calls</c>, <c>GET|PUT /admin/behaviour</c>,
/// <c>POST /admin/script</c> (the next calls answer exactly these steps), <c>POST /admin/users</c> (each listed user's
/// calls follow its own plan), <c>POST /admin/release</c> (the calls held by a <c>hold</c> step answer) and
/// <c>POST /admin/reset</c>.
/// </summary>
public static class AdminApi
{
    public sealed record ScriptRequest(IReadOnlyList<string>? Steps);

    public sealed record UserPlansRequest(IReadOnlyDictionary<string, FakeUserPlan>? Users);

    private const string StepsError = "steps must be \"ok\", \"hang\", \"hold\", \"non-json\", \"reset\" or an HTTP status 200-599";

    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/stats", (FakeCrewState state) => Results.Ok(state.Stats()));
        app.MapGet("/calls", (FakeCrewState state) => Results.Ok(state.Calls()));

        var admin = app.MapGroup("/admin");
        admin.MapGet("/behaviour", (FakeCrewState state) => Results.Ok(state.Behaviour));
        admin.MapPut("/behaviour", (FakeCrewBehaviourPatch patch, FakeCrewState state) =>
        {
            var next = patch.ApplyTo(state.Behaviour);
            var problems = next.Problems().ToList();
            if (problems.Count > 0)
            {
                return Results.BadRequest(new { success = false, error = string.Join("; ", problems) });
            }

            state.SetBehaviour(next);
            return Results.Ok(next);
        });
        admin.MapPost("/script", (ScriptRequest request, FakeCrewState state) =>
        {
            var steps = request.Steps ?? [];
            if (steps.Count == 0 || steps.Any(step => !Plans.IsValid(step)))
            {
                return Results.BadRequest(new { success = false, error = $"a non-empty list of steps is required; {StepsError}" });
            }

            state.AddScript(steps);
            return Results.Ok(state.Stats());
        });
        admin.MapPost("/users", (UserPlansRequest request, FakeCrewState state) =>
        {
            var users = request.Users ?? new Dictionary<string, FakeUserPlan>();
            if (users.Count == 0 || users.Values.Any(plan => (plan.Steps ?? []).Append(plan.Then ?? Plans.Ok).Any(step => !Plans.IsValid(step)) || plan.LatencyMs < 0))
            {
                return Results.BadRequest(new { success = false, error = $"users must map user uids to plans; {StepsError}; latencyMs must not be negative" });
            }

            state.SetUserPlans(users);
            return Results.Ok(state.Stats());
        });
        admin.MapPost("/release", (FakeCrewState state) =>
        {
            state.ReleaseHeld();
            return Results.Ok(state.Stats());
        });
        admin.MapPost("/reset", (FakeCrewState state) =>
        {
            state.Reset();
            return Results.Ok(state.Stats());
        });
        return app;
    }
}
