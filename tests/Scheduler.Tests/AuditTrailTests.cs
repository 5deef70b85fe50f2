using System.Net;
using System.Text.Json;
using CrewPlatform.Contracts;
using CrewPlatform.Scheduler.Retention;
using CrewPlatform.ServiceDefaults;
using CrewPlatform.ServiceDefaults.Audit;
using CrewPlatform.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace CrewPlatform.Scheduler.Tests;

/// <summary>
/// The Scheduler's part of the audit trail over real PostgreSQL: one row per operator action with the actor and the
/// client address the gateway named, none for a preview or a refusal; <c>GET /api/audit</c>'s filters and paging; the
/// gateway's sign-in rows; retention.
/// </summary>
public sealed class AuditTrailTests(SegmentedSchedulerFixture fixture) : IClassFixture<SegmentedSchedulerFixture>
{
    private HttpClient ClientAs(string actor, string address = "203.0.113.7")
    {
        var client = fixture.App.CreateClient();
        client.DefaultRequestHeaders.Add(CrewActor.Header, CrewActor.Encode(actor));
        client.DefaultRequestHeaders.Add(CrewActor.ClientAddressHeader, address);
        return client;
    }

    private sealed record Row(string? Actor, string? ClientAddress, string Service, string Action, string Target, JsonElement Fields);

    private async Task<List<Row>> RowsOfAsync(string actor)
    {
        var page = await fixture.App.CreateClient().SendJsonAsync(HttpMethod.Get, $"/api/audit?actor={Uri.EscapeDataString(actor)}&limit=1000");
        Assert.Equal(HttpStatusCode.OK, page.Status);
        return page.Body.GetProperty("data").EnumerateArray().Reverse()
            .Select(e => new Row(
                e.GetProperty("actor").GetString(), e.GetProperty("clientAddress").GetString(), e.GetProperty("service").GetString()!,
                e.GetProperty("action").GetString()!, e.GetProperty("target").GetString()!, e.GetProperty("fields").Clone()))
            .ToList();
    }

    [Fact]
    public async Task Every_schedule_and_run_action_leaves_one_row_with_who_from_where_and_what_was_asked_and_previews_and_refusals_none()
    {
        const string Actor = "jwt:Zoë Ops";
        var client = ClientAs(Actor);
        await fixture.ExecuteAsync("INSERT INTO users (uid) VALUES ('audit-empty') ON CONFLICT DO NOTHING");

        var created = await client.SendJsonAsync(HttpMethod.Post, "/api/scheduler/schedules", """{"name":"audited","intervalMinutes":30}""");
        var id = created.Body.GetProperty("data").GetProperty("id").GetInt32();
        var actions = new (HttpMethod Method, string Url, string? Json, HttpStatusCode Expected)[]
        {
            (HttpMethod.Patch, $"/api/scheduler/schedules/{id}", """{"intervalMinutes":45,"maxSpendPerRun":2.5}""", HttpStatusCode.OK),
            (HttpMethod.Post, $"/api/scheduler/schedules/{id}/pause", """{"note":"vendor window"}""", HttpStatusCode.OK),
            (HttpMethod.Post, $"/api/scheduler/schedules/{id}/resume", null, HttpStatusCode.OK),
            (HttpMethod.Post, "/api/scheduler", """{"action":"start","intervalMinutes":60}""", HttpStatusCode.OK),
            (HttpMethod.Post, "/api/scheduler", """{"action":"stop"}""", HttpStatusCode.OK),
            (HttpMethod.Post, "/api/scheduler", """{"action":"run-now","userUids":["audit-empty"],"dryRun":true}""", HttpStatusCode.OK),
            (HttpMethod.Post, "/api/scheduler", """{"action":"run-now","intervalMinutes":5}""", HttpStatusCode.BadRequest),
            (HttpMethod.Post, $"/api/scheduler/schedules/{id + 1000}/pause", null, HttpStatusCode.NotFound),
            (HttpMethod.Delete, "/api/scheduler/schedules/1", null, HttpStatusCode.Conflict),
        };
        foreach (var (method, url, json, expected) in actions)
        {
            Assert.Equal(expected, (await client.SendJsonAsync(method, url, json)).Status);
        }

        // A run of a user with neither context nor goal completes as it starts, so its retry-failed is accepted (of none).
        var run = await client.SendJsonAsync(HttpMethod.Post, "/api/scheduler", """{"action":"run-now","userUids":["audit-empty"],"maxCallsPerRun":3}""");
        var runId = run.Body.GetProperty("data").GetProperty("runId").GetGuid();
        Assert.Equal(HttpStatusCode.OK, (await client.SendJsonAsync(HttpMethod.Post, $"/api/scheduler/runs/{runId}/retry-failed?dryRun=true")).Status);
        Assert.Equal(HttpStatusCode.Accepted, (await client.SendJsonAsync(HttpMethod.Post, $"/api/scheduler/runs/{runId}/retry-failed")).Status);
        Assert.Equal(HttpStatusCode.Conflict, (await client.SendJsonAsync(HttpMethod.Post, $"/api/scheduler/runs/{runId}/cancel")).Status);

        // A run of a user with a context stays running (no crew caller answers it) until it is cancelled.
        await fixture.AddTieredUsersAsync(("audit-busy", null));
        var busy = await client.SendJsonAsync(HttpMethod.Post, "/api/scheduler", """{"action":"run-now","userUids":["audit-busy"]}""");
        var busyId = busy.Body.GetProperty("data").GetProperty("runId").GetGuid();
        await using (await new BusListener(fixture)
            .Answer<CrewRunCancelled, CrewRunCancelRecorded>("audit-tests-crew-caller", cancel => new CrewRunCancelRecorded { RunId = cancel.RunId })
            .StartAsync())
        {
            Assert.Equal(HttpStatusCode.Accepted, (await client.SendJsonAsync(HttpMethod.Post, $"/api/scheduler/runs/{busyId}/cancel")).Status);
        }

        Assert.Equal(HttpStatusCode.OK, (await client.SendJsonAsync(HttpMethod.Delete, $"/api/scheduler/schedules/{id}")).Status);

        var rows = await RowsOfAsync(Actor);

        Assert.Equal(
            [
                (AuditActions.ScheduleCreate, AuditTargets.Schedule(id)), (AuditActions.ScheduleUpdate, AuditTargets.Schedule(id)),
                (AuditActions.SchedulePause, AuditTargets.Schedule(id)), (AuditActions.ScheduleResume, AuditTargets.Schedule(id)),
                (AuditActions.ScheduleStart, AuditTargets.Schedule(1)), (AuditActions.ScheduleStop, AuditTargets.Schedule(1)),
                (AuditActions.RunStart, AuditTargets.Run(runId)), (AuditActions.RunRetryFailed, AuditTargets.Run(runId)),
                (AuditActions.RunStart, AuditTargets.Run(busyId)), (AuditActions.RunCancel, AuditTargets.Run(busyId)),
                (AuditActions.ScheduleDelete, AuditTargets.Schedule(id)),
            ],
            rows.Select(r => (r.Action, r.Target)));
        Assert.All(rows, r => Assert.Equal(("203.0.113.7", "scheduler"), (r.ClientAddress, r.Service)));
        Assert.Equal("""{"name":"audited","intervalMinutes":30}""", rows[0].Fields.GetRawText());
        Assert.Equal(2.5m, rows[1].Fields.GetProperty("maxSpendPerRun").GetDecimal());
        Assert.Equal("vendor window", rows[2].Fields.GetProperty("note").GetString());
        Assert.Equal(3, rows[6].Fields.GetProperty("maxCallsPerRun").GetInt32());
        Assert.Equal(0, rows[7].Fields.GetProperty("retried").GetInt32());
    }

    [Fact]
    public async Task A_run_now_of_many_listed_users_keeps_their_count_not_the_list_and_a_call_not_through_the_gateway_has_no_actor()
    {
        var uids = Enumerable.Range(0, 25).Select(i => $"audit-many-{i:D2}").ToList();
        await fixture.AddUsersAsync(uids.Select(uid => (uid, (string?)null, (string?)null)));
        var direct = fixture.App.CreateClient();
        var run = await direct.SendJsonAsync(HttpMethod.Post, "/api/scheduler",
            JsonSerializer.Serialize(new { action = "run-now", userUids = uids }));
        var runId = run.Body.GetProperty("data").GetProperty("runId").GetGuid();

        var page = await direct.SendJsonAsync(HttpMethod.Get, $"/api/audit?target={AuditTargets.Run(runId)}");
        var row = Assert.Single(page.Body.GetProperty("data").EnumerateArray());

        Assert.Equal(JsonValueKind.Null, row.GetProperty("actor").ValueKind);
        Assert.Equal("""{"action":"run-now","userUids":{"count":25}}""", row.GetProperty("fields").GetRawText());
    }

    [Fact]
    public async Task The_gateways_sign_in_and_sign_out_are_rows_of_the_session_named_by_its_key()
    {
        var gateway = ClientAs("ops.session", "198.51.100.4");

        Assert.Equal(HttpStatusCode.NoContent, (await gateway.PostAsync("/audit/session/sign-in", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await gateway.PostAsync("/audit/session/sign-out", null)).StatusCode);

        Assert.Equal(
            [
                new Row("ops.session", "198.51.100.4", "scheduler", AuditActions.SessionSignIn, AuditTargets.Session, default),
                new Row("ops.session", "198.51.100.4", "scheduler", AuditActions.SessionSignOut, AuditTargets.Session, default),
            ],
            (await RowsOfAsync("ops.session")).Select(r => r with { Fields = default }));
    }

    [Fact]
    public async Task The_list_filters_by_action_target_and_time_and_pages_newest_first_by_its_cursor()
    {
        await fixture.ExecuteAsync("""
            INSERT INTO audit.entries (at, actor, service, action, target)
            SELECT timestamptz '2031-05-01 00:00Z' + i * interval '1 hour', 'pager', 'scheduler',
                   CASE WHEN i % 2 = 0 THEN 'schedule.pause' ELSE 'schedule.resume' END, 'schedule:' || (i % 3)
            FROM generate_series(1, 7) i
            """);
        var client = fixture.App.CreateClient();
        async Task<(List<string> At, string? Next)> PageAsync(string query)
        {
            var page = await client.SendJsonAsync(HttpMethod.Get, "/api/audit?actor=pager&" + query);
            Assert.Equal(HttpStatusCode.OK, page.Status);
            return (page.Body.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("at").GetDateTimeOffset().ToString("HH")).ToList(),
                page.Body.TryGetProperty("nextCursor", out var next) && next.ValueKind == JsonValueKind.String ? next.GetString() : null);
        }

        var first = await PageAsync("limit=3");
        var second = await PageAsync($"limit=3&after={first.Next}");
        var third = await PageAsync($"limit=3&after={second.Next}");

        Assert.Equal(["07", "06", "05", "04", "03", "02", "01"], [.. first.At, .. second.At, .. third.At]);
        Assert.Single(third.At);
        Assert.Null(third.Next);
        Assert.Equal(["06", "04", "02"], (await PageAsync("action=schedule.pause")).At);
        Assert.Equal(["06", "03"], (await PageAsync("target=schedule:0")).At);
        Assert.Equal(["04", "03", "02"], (await PageAsync("from=2031-05-01T02:00Z&to=2031-05-01T04:00:00%2B00:00")).At);
        Assert.Equal(7, (await PageAsync("from=2031-05-01&to=2031-05-01")).At.Count);
        Assert.Empty((await PageAsync("to=2031-04-30")).At);
    }

    [Theory]
    [InlineData("action=schedule.explode", "action must be one of ")]
    [InlineData("after=abc", "after must be a nextCursor from a previous page")]
    [InlineData("after=-5", "after must be a nextCursor from a previous page")]
    [InlineData("from=yesterday", "from must be an ISO-8601 date or date-time")]
    [InlineData("limit=1001", "limit must be a whole number from 0 to 1000")]
    [InlineData("actor=a&actor=b", "actor must be given at most once")]
    public async Task A_bad_query_is_a_400_naming_the_parameter(string query, string error)
    {
        var refused = await fixture.App.CreateClient().SendJsonAsync(HttpMethod.Get, "/api/audit?" + query);

        Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
        Assert.StartsWith(error, refused.Body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Retention_deletes_rows_older_than_its_days_and_never_one_younger_than_30_days()
    {
        await fixture.ExecuteAsync("""
            INSERT INTO audit.entries (at, actor, service, action, target) VALUES
                (now() - interval '400 days', 'retention', 'scheduler', 'schedule.stop', 'schedule:1'),
                (now() - interval '366 days', 'retention', 'scheduler', 'schedule.stop', 'schedule:1'),
                (now() - interval '364 days', 'retention', 'scheduler', 'schedule.stop', 'schedule:1'),
                (now() - interval '29 days', 'retention', 'scheduler', 'schedule.stop', 'schedule:1')
            """);
        var retention = fixture.App.Services.GetRequiredService<AuditRetention>();

        Assert.True(await retention.RunOnceAsync(CancellationToken.None) >= 2);

        Assert.Equal(2L, await fixture.ScalarAsync<long>("SELECT count(*) FROM audit.entries WHERE actor = 'retention'"));

        // Asked to keep nothing, the function still keeps the last 30 days.
        Assert.Equal(1, await fixture.ScalarAsync<int>("SELECT audit.delete_expired(0, 1000)"));
        Assert.Equal(29, await fixture.ScalarAsync<int>(
            "SELECT extract(day FROM now() - at)::int FROM audit.entries WHERE actor = 'retention'"));
    }
}
