using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CrewPlatform.Contracts;
using CrewPlatform.Testing;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace CrewPlatform.ResponseStore.Tests;

/// <summary>Answers keep the schedule and crew endpoint their command carried, and the list filters by them.</summary>
public sealed class RunOriginFilterTests(ResponseStoreApp app) : IClassFixture<ResponseStoreApp>
{
    private static CrewResponseReceived Received(string userUid, int? scheduleId, string? endpoint) => new()
    {
        RunId = Guid.NewGuid(),
        UserUid = userUid,
        RequestContext = "ctx",
        RequestGoal = "goal",
        ResponseJson = """{"ok":true}""",
        Attempts = 1,
        DurationMs = 10,
        ReceivedAt = DateTimeOffset.UtcNow,
        ScheduleId = scheduleId,
        Endpoint = endpoint,
    };

    private async Task<List<JsonElement>> ListAsync(string query)
    {
        var body = await app.CreateClient().GetFromJsonAsync<JsonElement>($"/api/crew-responses?{query}");
        return body.GetProperty("data").EnumerateArray().ToList();
    }

    [Fact]
    public async Task The_list_filters_answers_by_schedule_and_by_endpoint_and_an_old_answer_counts_as_the_default_endpoint()
    {
        var uid = $"origin-{Guid.NewGuid():N}"[..20];
        await app.AddUsersAsync([(uid, "ctx", "goal")]);
        var harness = app.Factory.Services.GetRequiredService<ITestHarness>();
        await harness.Bus.Publish(Received(uid, 4101, "premium"));
        await harness.Bus.Publish(Received(uid, 4102, CrewEndpointNames.Default));
        await harness.Bus.Publish(Received(uid, null, null));
        await Eventually.HoldsAsync(async () => (await ListAsync($"userUid={uid}")).Count == 3, "the three answers were stored");

        var premium = Assert.Single(await ListAsync($"userUid={uid}&endpoint=premium"));
        var bySchedule = Assert.Single(await ListAsync($"userUid={uid}&scheduleId=4102"));
        Assert.NotEqual(premium.GetProperty("runId").GetGuid(), bySchedule.GetProperty("runId").GetGuid());
        Assert.Equal(premium.GetProperty("runId").GetGuid(), Assert.Single(await ListAsync($"userUid={uid}&scheduleId=4101&endpoint=premium")).GetProperty("runId").GetGuid());
        Assert.Empty(await ListAsync($"userUid={uid}&scheduleId=4102&endpoint=premium"));
        Assert.Equal(2, (await ListAsync($"userUid={uid}&endpoint=default")).Count);
    }

    [Theory]
    [InlineData("scheduleId=abc", "scheduleId must be a whole number of 1 or more")]
    [InlineData("scheduleId=0", "scheduleId must be a whole number of 1 or more")]
    [InlineData("scheduleId=1&scheduleId=2", "scheduleId must be given at most once")]
    [InlineData("endpoint=a&endpoint=b", "endpoint must be given at most once")]
    [InlineData("endpoint=%00", "endpoint must be 1 to 40 lower-case letters, digits and dashes")]
    public async Task A_bad_filter_gets_400_with_the_envelope(string query, string error)
    {
        var response = await app.CreateClient().GetAsync($"/api/crew-responses?{query}");
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.False(body.GetProperty("success").GetBoolean());
        Assert.Equal(error, body.GetProperty("error").GetString());
    }
}
