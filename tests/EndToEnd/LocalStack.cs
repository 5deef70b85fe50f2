using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using CrewPlatform.Testing;

namespace CrewPlatform.EndToEnd;

/// <summary>
/// The whole platform as real processes, started by <c>scripts/run-local.sh up</c> exactly as a user starts it,
/// but pointed at this fixture's private database and RabbitMQ virtual host. Tests talk to it through the gateway.
/// </summary>
public sealed class LocalStack : RealInfrastructure
{
    /// <summary>A key with the <c>read</c> role, next to the admin token run-local.sh generates.</summary>
    public const string ReadKey = "e2e-dashboard-read-key";

    /// <summary>A key with the <c>admin</c> role, named <see cref="OpsKeyName"/>.</summary>
    public const string OpsKey = "e2e-ops-admin-key-0123456789";
    public const string OpsKeyName = "ops.e2e";

    /// <summary>An identity provider the gateway accepts JWTs from (a token with <c>role: admin</c> may act).</summary>
    public TokenIssuer Issuer { get; } = new();
    public static readonly Uri GatewayUrl = LocalStackScript.GatewayUrl;
    public static readonly Uri FakeCrewUrl = LocalStackScript.FakeCrewUrl;

    /// <summary>Users loaded before the stack starts: 36 with a context or a goal, 4 with neither.</summary>
    public IReadOnlyList<(string Uid, string? Context, string? Goal)> Users { get; } = BuildUsers();

    public int EligibleUsers => Users.Count(u => !string.IsNullOrWhiteSpace(u.Context) || !string.IsNullOrWhiteSpace(u.Goal));

    public HttpClient Gateway { get; } = new() { BaseAddress = GatewayUrl, Timeout = TimeSpan.FromSeconds(60) };

    /// <summary>The admin token <c>run-local.sh up</c> generated, read once the stack is up.</summary>
    public string Token { get; private set; } = "";

    private readonly SemaphoreSlim runGate = new(1, 1);
    private Guid? completedRunId;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await AddUsersAsync(Users);
        await Issuer.InitializeAsync();
        await LocalStackScript.RunAsync("up", StackEnvironment());
        Token = LocalStackScript.AdminToken();
        Gateway.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
    }

    public override async Task DisposeAsync()
    {
        try
        {
            await LocalStackScript.RunAsync("down", StackEnvironment());
        }
        finally
        {
            Gateway.Dispose();
            await Issuer.DisposeAsync();
            await base.DisposeAsync();
        }
    }

    /// <summary>
    /// The settings the stack runs with: this fixture's database and vhost, small pages, a read and an admin key, JWTs from
    /// <see cref="Issuer"/>, and no CREW_ADMIN_TOKEN (not
    /// even the test's own), so the gateway uses the token run-local.sh generates, as a user's stack does.
    /// </summary>
    public Dictionary<string, string?> StackEnvironment()
    {
        var env = new Dictionary<string, string?>(ServiceEnvironment)
        {
            ["CREW_ADMIN_TOKEN"] = null,
            ["CREW_API_KEYS"] = $"dashboard:read:{ReadKey},{OpsKeyName}:admin:{OpsKey}",
            ["CREW_JWT_JWKS_URL"] = Issuer.JwksUrl,
            ["CREW_JWT_ISSUER"] = Issuer.Issuer,
            ["CREW_JWT_AUDIENCE"] = TokenIssuer.Audience,
            ["CREW_RATE_LIMIT_PER_MINUTE"] = "100000",
            ["CREW_SCHEDULER_PAGE_SIZE"] = "7",
            ["CREW_MAX_CONCURRENCY"] = "4",
            ["FakeCrew__LatencyMs"] = "100",
            ["FakeCrew__JitterMs"] = "50",
        };
        return env;
    }

    /// <summary>One manual run over every user, started once and shared by the tests that need a finished run.</summary>
    public async Task<JsonElement> CompletedRunAsync()
    {
        await runGate.WaitAsync();
        try
        {
            completedRunId ??= await StartRunAsync();
            return await WaitForRunCompletedAsync(completedRunId.Value);
        }
        finally
        {
            runGate.Release();
        }
    }

    public Task<Guid> StartRunAsync() => LocalStackScript.RunNowAsync(Gateway);

    public async Task<JsonElement> WaitForRunCompletedAsync(Guid runId)
    {
        JsonElement run = default;
        await Eventually.HoldsAsync(
            async () =>
            {
                using var response = await Gateway.GetAsync($"/api/scheduler/runs/{runId}");
                using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                run = json.RootElement.GetProperty("data").Clone();
                return run.GetProperty("status").GetString() == "completed";
            },
            $"run {runId} is completed",
            TimeSpan.FromMinutes(3));
        return run;
    }

    private static List<(string, string?, string?)> BuildUsers()
    {
        var users = new List<(string, string?, string?)>();
        for (var i = 1; i <= 36; i++)
        {
            var context = i % 3 == 0 ? null : $"Business {i}: a shop with {i} employees.";
            var goal = i % 3 == 1 ? null : $"Goal {i}: grow revenue by {i}%.";
            users.Add(($"e2e-user-{i:D3}", context, goal));
        }

        users.Add(("e2e-empty-1", null, null));
        users.Add(("e2e-empty-2", "", ""));
        users.Add(("e2e-empty-3", "   ", null));
        users.Add(("e2e-empty-4", null, "\t"));
        return users;
    }
}

[CollectionDefinition(Name)]
public sealed class LocalStackCollection : ICollectionFixture<LocalStack>
{
    public const string Name = "local stack";
}
