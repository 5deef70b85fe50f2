using System.Net.Http.Json;
using System.Text.Json;
using CrewPlatform.Testing;
using Npgsql;

namespace CrewPlatform.EndToEnd;

[Collection(LocalStackCollection.Name)]
public sealed class RunNowTests(LocalStack stack)
{
    [Fact]
    public async Task Run_now_stores_exactly_one_answer_per_eligible_user_with_the_request_and_the_crew_answer()
    {
        var run = await stack.CompletedRunAsync();
        var runId = run.GetProperty("id").GetGuid();

        await using var connection = new NpgsqlConnection(stack.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT user_uid, request_context, request_goal, response_data::text FROM crew_responses WHERE run_id = @run", connection);
        command.Parameters.AddWithValue("run", runId);
        var rows = new List<(string Uid, string? Context, string? Goal, string Response)>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                rows.Add((reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetString(3)));
            }
        }

        var eligible = stack.Users.Where(u => !string.IsNullOrWhiteSpace(u.Context) || !string.IsNullOrWhiteSpace(u.Goal)).ToList();
        Assert.Equal(eligible.Count, rows.Count);
        Assert.Equal(eligible.Select(u => u.Uid).Order(), rows.Select(r => r.Uid).Order());
        foreach (var user in eligible)
        {
            var row = rows.Single(r => r.Uid == user.Uid);
            Assert.Equal(user.Context, row.Context);
            Assert.Equal(user.Goal, row.Goal);
            using var answer = JsonDocument.Parse(row.Response);
            Assert.True(answer.RootElement.GetProperty("Questions").GetArrayLength() > 0, $"the fake's answer is stored for {user.Uid}");
        }
    }

    [Fact]
    public async Task A_finished_run_reports_completed_with_the_right_counters()
    {
        var run = await stack.CompletedRunAsync();

        Assert.Equal("completed", run.GetProperty("status").GetString());
        Assert.Equal("manual", run.GetProperty("trigger").GetString());
        Assert.Equal(stack.EligibleUsers, run.GetProperty("dispatched").GetInt32());
        Assert.Equal(stack.EligibleUsers, run.GetProperty("succeeded").GetInt32());
        Assert.Equal(0, run.GetProperty("failed").GetInt32());
        Assert.Equal(stack.Users.Count - stack.EligibleUsers, run.GetProperty("skipped").GetInt32());
        Assert.NotEqual(JsonValueKind.Null, run.GetProperty("completedAt").ValueKind);
    }

    [Fact]
    public async Task Stored_answers_are_readable_through_the_gateway()
    {
        await stack.CompletedRunAsync();
        var user = stack.Users[1];

        using var json = JsonDocument.Parse(await stack.Gateway.GetStringAsync($"/api/crew-responses?userUid={user.Uid}&limit=5"));
        var root = json.RootElement;

        Assert.True(root.GetProperty("success").GetBoolean());
        var item = root.GetProperty("data").EnumerateArray().First();
        Assert.Equal(user.Uid, item.GetProperty("userUid").GetString());
        Assert.Equal(user.Context, item.GetProperty("requestContext").GetString());
        Assert.Equal(JsonValueKind.Array, item.GetProperty("responseData").GetProperty("Questions").ValueKind);
        Assert.Equal(root.GetProperty("data").GetArrayLength(), root.GetProperty("count").GetInt32());
    }

    [Fact]
    public async Task The_schedule_is_started_and_stopped_through_the_gateway_with_the_original_messages()
    {
        using var started = await stack.Gateway.PostAsJsonAsync("/api/scheduler", new { action = "start", intervalMinutes = 7 });
        using var startedJson = JsonDocument.Parse(await started.Content.ReadAsStringAsync());
        Assert.Equal(200, (int)started.StatusCode);
        Assert.Equal("Scheduler started with interval: 7 minutes", startedJson.RootElement.GetProperty("message").GetString());
        Assert.True(startedJson.RootElement.GetProperty("data").GetProperty("isRunning").GetBoolean());
        Assert.Equal(7, startedJson.RootElement.GetProperty("data").GetProperty("intervalMinutes").GetInt32());

        using var stopped = await stack.Gateway.PostAsJsonAsync("/api/scheduler", new { action = "stop" });
        using var stoppedJson = JsonDocument.Parse(await stopped.Content.ReadAsStringAsync());
        Assert.Equal("Scheduler stopped", stoppedJson.RootElement.GetProperty("message").GetString());

        using var status = JsonDocument.Parse(await stack.Gateway.GetStringAsync("/api/scheduler"));
        Assert.False(status.RootElement.GetProperty("data").GetProperty("isRunning").GetBoolean());
        Assert.Equal(7, status.RootElement.GetProperty("data").GetProperty("intervalMinutes").GetInt32());
        Assert.False(string.IsNullOrEmpty(status.RootElement.GetProperty("data").GetProperty("apiUrl").GetString()));
    }
}
