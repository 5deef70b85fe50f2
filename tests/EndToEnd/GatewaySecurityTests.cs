using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using CrewPlatform.Testing;

namespace CrewPlatform.EndToEnd;

[Collection(LocalStackCollection.Name)]
public sealed class GatewaySecurityTests(LocalStack stack)
{
    // "{token}" stands for the stack's admin token, known only once run-local.sh has generated it.
    public static TheoryData<string?, string?> RejectedCredentials => new()
    {
        { null, null },
        { "Bearer", "not-the-token" },
        { "Bearer", "{token}x" },
        { "Basic", "{token}" },
    };

    [Theory]
    [MemberData(nameof(RejectedCredentials))]
    public async Task Calls_without_the_admin_token_get_401_in_the_error_envelope(string? scheme, string? token)
    {
        using var client = new HttpClient { BaseAddress = LocalStack.GatewayUrl };
        if (scheme is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(scheme, token?.Replace("{token}", stack.Token, StringComparison.Ordinal));
        }

        foreach (var path in new[] { "/api/scheduler", "/api/crew-responses" })
        {
            using var response = await client.GetAsync(path);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.False(json.RootElement.GetProperty("success").GetBoolean());
            Assert.False(string.IsNullOrWhiteSpace(json.RootElement.GetProperty("error").GetString()));
        }
    }

    [Fact]
    public async Task The_right_token_is_let_through()
    {
        using var response = await stack.Gateway.GetAsync("/api/scheduler");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task A_read_key_reads_but_gets_403_on_a_control_action()
    {
        using var client = new HttpClient { BaseAddress = LocalStack.GatewayUrl };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", LocalStack.ReadKey);

        using var schedule = await client.GetAsync("/api/scheduler");
        using var answers = await client.GetAsync("/api/crew-responses?limit=1");
        using var retry = await client.PostAsync($"/api/scheduler/runs/{Guid.NewGuid()}/retry-failed", null);

        Assert.Equal(HttpStatusCode.OK, schedule.StatusCode);
        Assert.Equal(HttpStatusCode.OK, answers.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, retry.StatusCode);
        using var json = JsonDocument.Parse(await retry.Content.ReadAsStringAsync());
        Assert.False(json.RootElement.GetProperty("success").GetBoolean());
        Assert.Contains("'read'", json.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Proxied_answers_carry_the_security_headers()
    {
        using var response = await stack.Gateway.GetAsync("/api/scheduler");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
        Assert.Equal("DENY", Assert.Single(response.Headers.GetValues("X-Frame-Options")));
        Assert.Equal("no-referrer", Assert.Single(response.Headers.GetValues("Referrer-Policy")));
        Assert.Contains("frame-ancestors 'none'", Assert.Single(response.Headers.GetValues("Content-Security-Policy")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_over_the_rate_limit_gets_429_with_Retry_After()
    {
        // A second gateway process (on a port run-local leaves free), as run-local starts the first, with a limit small enough to reach.
        var output = RealInfrastructure.RepositoryFile("services/Gateway/bin/Release/net10.0");
        var start = new ProcessStartInfo("dotnet", ["CrewPlatform.Gateway.dll", "--urls", "http://127.0.0.1:8088"])
        {
            WorkingDirectory = output,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var line in File.ReadLines(RealInfrastructure.RepositoryFile("deploy/env/gateway.env")).Where(l => l.Contains('=', StringComparison.Ordinal) && !l.StartsWith('#')))
        {
            start.Environment[line[..line.IndexOf('=', StringComparison.Ordinal)]] = line[(line.IndexOf('=', StringComparison.Ordinal) + 1)..];
        }

        start.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:8088";
        start.Environment["GATEWAY_MANAGEMENT_URLS"] = $"http://127.0.0.1:{LoopbackPort.Free()}"; // the first gateway has the file's
        start.Environment["CREW_ADMIN_TOKEN"] = stack.Token;
        start.Environment["CREW_RATE_LIMIT_PER_MINUTE"] = "3";

        using var gateway = Process.Start(start)!;
        gateway.OutputDataReceived += (_, _) => { };
        gateway.ErrorDataReceived += (_, _) => { };
        gateway.BeginOutputReadLine();
        gateway.BeginErrorReadLine();
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri("http://127.0.0.1:8088") };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", stack.Token);
            await Eventually.HoldsAsync(async () =>
            {
                try
                {
                    return (await client.GetAsync("/health/live")).IsSuccessStatusCode;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, "the second gateway answers");

            HttpResponseMessage? limited = null;
            for (var i = 0; i < 10 && limited is null; i++)
            {
                var response = await client.GetAsync("/api/scheduler");
                if (response.StatusCode == HttpStatusCode.TooManyRequests)
                {
                    limited = response;
                }
                else
                {
                    response.Dispose();
                }
            }

            Assert.NotNull(limited);
            Assert.True(limited.Headers.RetryAfter is not null, "429 carries Retry-After");
            using var json = JsonDocument.Parse(await limited.Content.ReadAsStringAsync());
            Assert.False(json.RootElement.GetProperty("success").GetBoolean());
            limited.Dispose();
        }
        finally
        {
            gateway.Kill(entireProcessTree: true);
            await gateway.WaitForExitAsync();
        }
    }

    [Fact]
    public async Task The_broker_lists_the_services_queues_under_kebab_case_names()
    {
        await stack.CompletedRunAsync();
        var queues = await stack.QueueNamesAsync();

        Assert.Contains("user-batch-due", queues);
        Assert.Contains("run-crew-for-user", queues);
        Assert.Contains("crew-response-received", queues);
        Assert.Contains("crew-response-stored", queues);
        Assert.Contains("crew-call-failed", queues);
    }
}
