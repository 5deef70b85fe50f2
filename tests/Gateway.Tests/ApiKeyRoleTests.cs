using System.Net;
using System.Net.Http.Json;
using CrewPlatform.Gateway.Tests.Support;

namespace CrewPlatform.Gateway.Tests;

public sealed class ApiKeyRoleTests(Backends backends) : IClassFixture<Backends>, IDisposable
{
    private const string OpsKey = "ops-key-0123456789abcdef";
    private const string DashboardKey = "dashboard-key-0123456789";
    private readonly string keysFile = Path.GetTempFileName();

    /// <summary>An admin key and a read key in CREW_API_KEYS, and no CREW_ADMIN_TOKEN.</summary>
    private Dictionary<string, string?> NamedKeySettings()
    {
        var settings = backends.GatewaySettings();
        settings["CREW_ADMIN_TOKEN"] = null;
        settings["CREW_API_KEYS"] = $"ops:admin:{OpsKey}, dashboard:read:{DashboardKey}";
        return settings;
    }

    public void Dispose() => File.Delete(keysFile);

    [Theory]
    [InlineData("/api/scheduler")]
    [InlineData("/api/scheduler/runs?limit=5")]
    [InlineData("/api/crew-responses/42")]
    public async Task A_read_key_may_read(string path)
    {
        await using var gateway = new GatewayFactory(NamedKeySettings());
        using var client = gateway.CreateAuthorizedClient(DashboardKey);

        var response = await client.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("GET", (await response.Content.ReadFromJsonAsync<EchoedRequest>())!.Method);
    }

    [Theory]
    [InlineData("POST", "/api/scheduler")]
    [InlineData("POST", "/api/scheduler/run-now")]
    [InlineData("POST", "/api/scheduler/runs/6f1c2d3e-0000-4000-8000-000000000001/retry-failed")]
    [InlineData("PUT", "/api/scheduler")]
    [InlineData("PATCH", "/api/scheduler")]
    [InlineData("DELETE", "/api/crew-responses/42")]
    [InlineData("POST", "/api/some-route-added-later")]
    [InlineData("OPTIONS", "/api/scheduler")]
    public async Task A_read_key_on_a_control_action_gets_403_in_the_envelope(string method, string path)
    {
        await using var gateway = new GatewayFactory(NamedKeySettings());
        using var client = gateway.CreateAuthorizedClient(DashboardKey);

        var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path)
        {
            Content = method == "OPTIONS" ? null : JsonContent.Create(new { action = "stop" }),
        });

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal($"This key's role 'read' cannot {method} {path.Split('?')[0]}; an admin key is required", await response.ReadErrorEnvelopeAsync());
    }

    [Theory]
    [InlineData("POST")]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    public async Task An_admin_key_may_control(string method)
    {
        await using var gateway = new GatewayFactory(NamedKeySettings());
        using var client = gateway.CreateAuthorizedClient(OpsKey);

        var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), "/api/scheduler")
        {
            Content = JsonContent.Create(new { action = "start" }),
        });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(method, (await response.Content.ReadFromJsonAsync<EchoedRequest>())!.Method);
    }

    [Fact]
    public async Task The_admin_token_keeps_working_next_to_named_keys_and_a_keys_file()
    {
        File.WriteAllLines(keysFile, ["# mounted by the orchestrator", "", $"robot:admin:{OpsKey}"]);
        var settings = backends.GatewaySettings();
        settings["CREW_API_KEYS"] = $"dashboard:read:{DashboardKey}";
        settings["CREW_API_KEYS_FILE"] = keysFile;
        await using var gateway = new GatewayFactory(settings);

        foreach (var key in new[] { GatewayFactory.Token, OpsKey })
        {
            using var admin = gateway.CreateAuthorizedClient(key);
            Assert.Equal(HttpStatusCode.OK, (await admin.PostAsJsonAsync("/api/scheduler", new { action = "stop" })).StatusCode);
        }

        using var reader = gateway.CreateAuthorizedClient(DashboardKey);
        Assert.Equal(HttpStatusCode.OK, (await reader.GetAsync("/api/scheduler")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await reader.PostAsJsonAsync("/api/scheduler", new { action = "stop" })).StatusCode);
    }

    [Fact]
    public async Task A_wrong_key_still_gets_401_and_no_key_a_bearer_challenge()
    {
        await using var gateway = new GatewayFactory(NamedKeySettings());
        using var guesser = gateway.CreateAuthorizedClient(DashboardKey + "x");
        using var anonymous = gateway.CreateClient();

        var wrong = await guesser.GetAsync("/api/scheduler");
        var none = await anonymous.GetAsync("/api/scheduler");

        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal("Invalid token", await wrong.ReadErrorEnvelopeAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal("Bearer", Assert.Single(none.Headers.WwwAuthenticate).Scheme);
    }

    [Fact]
    public async Task The_access_log_names_the_key_and_never_shows_it()
    {
        await using var gateway = new GatewayFactory(NamedKeySettings());
        using var reader = gateway.CreateAuthorizedClient(DashboardKey);
        using var guesser = gateway.CreateAuthorizedClient(OpsKey + "x");

        await reader.GetAsync("/api/scheduler");
        await reader.DeleteAsync("/api/crew-responses/42");
        await guesser.GetAsync("/api/scheduler");

        var lines = gateway.Logs.Entries.Select(entry => entry.Message).ToList();
        Assert.Contains("GET /api/scheduler answered 200", string.Join('\n', lines), StringComparison.Ordinal);
        Assert.Contains(lines, line => line.StartsWith("GET /api/scheduler answered 200", StringComparison.Ordinal) && line.EndsWith(" as dashboard", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.StartsWith("DELETE /api/crew-responses/42 answered 403", StringComparison.Ordinal) && line.EndsWith(" as dashboard", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.StartsWith("GET /api/scheduler answered 401", StringComparison.Ordinal) && line.EndsWith(" as -", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, line => line.Contains(DashboardKey, StringComparison.Ordinal) || line.Contains(OpsKey, StringComparison.Ordinal));
    }

    public static TheoryData<string, string, string> BadKeySettings => new()
    {
        { "CREW_API_KEYS", $"ops:owner:{OpsKey}", "CREW_API_KEYS entry 1: the role must be 'admin' or 'read'" },
        { "CREW_API_KEYS", "ops:admin:", "CREW_API_KEYS entry 1: the key is empty" },
        { "CREW_API_KEYS", $"ops:admin:{OpsKey},dashboard:read:short-key-12345", "CREW_API_KEYS entry 2: the key is shorter than 16 characters" },
        { "CREW_API_KEYS", $"ops:admin:{OpsKey},OPS:read:{DashboardKey}", "CREW_API_KEYS entry 2: its name is already the name of CREW_API_KEYS entry 1" },
        { "CREW_API_KEYS", $"ops:admin:{OpsKey},dashboard:read:{OpsKey}", "CREW_API_KEYS entry 2: its key is already the key of CREW_API_KEYS entry 1" },
        { "CREW_API_KEYS", $"admin:read:{OpsKey}", "CREW_API_KEYS entry 1: its name is already the name of CREW_ADMIN_TOKEN" },
        { "CREW_API_KEYS", $"ops:admin:{GatewayFactory.Token}", "CREW_API_KEYS entry 1: its key is already the key of CREW_ADMIN_TOKEN" },
        { "CREW_API_KEYS", OpsKey, "CREW_API_KEYS entry 1: is not name:role:key" },
        { "CREW_API_KEYS", $"{DashboardKey}:admin:{OpsKey[..10]}", "CREW_API_KEYS entry 1: the key is shorter than 16 characters" },
        { "CREW_API_KEYS", $"{OpsKey}:admin", "CREW_API_KEYS entry 1: is not name:role:key" },
        { "CREW_API_KEYS_FILE", $"# comment\nops:admin:{OpsKey}\nrobot:root:{DashboardKey}", "CREW_API_KEYS_FILE line 3: the role must be" },
    };

    [Theory]
    [MemberData(nameof(BadKeySettings))]
    public async Task The_gateway_refuses_to_start_with_a_bad_key_naming_the_setting_and_never_the_key(string setting, string value, string problem)
    {
        var settings = backends.GatewaySettings();
        if (setting == "CREW_API_KEYS_FILE")
        {
            File.WriteAllText(keysFile, value);
            value = keysFile;
        }

        settings[setting] = value;
        await using var gateway = new GatewayFactory(settings);

        var error = gateway.StartupFailure();

        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
        foreach (var key in new[] { OpsKey, OpsKey[..10], DashboardKey, GatewayFactory.Token })
        {
            Assert.DoesNotContain(key, error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_keys_file_that_cannot_be_read_stops_the_gateway_naming_the_setting()
    {
        var settings = backends.GatewaySettings();
        settings["CREW_API_KEYS_FILE"] = keysFile + ".missing";
        await using var gateway = new GatewayFactory(settings);

        Assert.Contains("CREW_API_KEYS_FILE: cannot read", gateway.StartupFailure().Message, StringComparison.Ordinal);
    }
}
