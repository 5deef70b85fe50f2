using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CrewPlatform.ServiceDefaults.Audit;
using CrewPlatform.Testing;
using OpenQA.Selenium;

namespace CrewPlatform.Dashboard.Tests;

/// <summary>The dashboard in headless Chromium against the real platform: what an operator sees and does.</summary>
public sealed class DashboardTests(DashboardStack stack) : IClassFixture<DashboardStack>
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(90);

    /// <summary>The rows a page of the dashboard's lists holds (app.js's pageSize).</summary>
    private const int PageSize = 20;

    [Fact]
    public void An_admin_signs_in_with_a_cookie_scripts_cannot_read_then_starts_and_stops_the_schedule()
    {
        using var browser = new Browser(stack.GatewayUrl);
        browser.SignIn(DashboardStack.AdminKey);
        browser.WaitText(By.Id("identity"), "ops (admin)");
        browser.Wait(By.Id("state"));

        var cookie = browser.Driver.Manage().Cookies.GetCookieNamed("crew-session");
        Assert.NotNull(cookie);
        Assert.True(cookie.IsHttpOnly);
        Assert.Equal("Strict", cookie.SameSite);
        Assert.DoesNotContain("crew-session", (string?)browser.Driver.ExecuteScript("return document.cookie") ?? "", StringComparison.Ordinal);
        Assert.DoesNotContain(DashboardStack.AdminKey, (string?)browser.Driver.ExecuteScript(
            "return JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.documentElement.outerHTML") ?? "", StringComparison.Ordinal);

        var interval = browser.Wait(By.Id("interval-minutes"));
        interval.Clear();
        interval.SendKeys("7");
        browser.Wait(By.Id("start")).Click();
        browser.WaitText(By.CssSelector("#main .outcome"), "Scheduler started with interval: 7 minutes");
        browser.WaitText(By.Id("state"), "running");
        browser.WaitText(By.Id("interval"), "7 minutes");
        browser.Wait(By.Id("countdown"), e => e.Text.Contains("in ", StringComparison.Ordinal));
        browser.Wait(By.Id("chart"));
        browser.Wait(By.Id("queue-table"), e => e.Text.Contains("crew-response-received", StringComparison.Ordinal) || e.Text.Contains("run-crew-for-user", StringComparison.Ordinal));
        browser.WaitText(By.Id("parked"), "Parked messages (_error queues): 0");
        browser.CheckPage("overview-running", "overview");

        // Keyboard only: the stop button is reached and pressed without the mouse.
        browser.Wait(By.Id("stop")).SendKeys(Keys.Enter);
        browser.WaitText(By.CssSelector("#main .outcome"), "Scheduler stopped");
        browser.WaitText(By.Id("state"), "stopped");
        browser.AssertNoConsoleErrors("overview after stop");

        browser.Wait(By.Id("interval-minutes")).Clear();
        browser.Wait(By.Id("interval-minutes")).SendKeys("0");
        browser.Wait(By.Id("start")).Click();
        browser.WaitText(By.CssSelector("#main .outcome.error"), "intervalMinutes is required and must be greater than 0");
        // The refused call is the browser's only complaint: it logs every 4xx answer it fetched, and no script failed.
        Assert.All(browser.ConsoleErrors(), e => Assert.Contains("/api/scheduler - Failed to load resource: the server responded with a status of 400", e, StringComparison.Ordinal));

        browser.Wait(By.Id("sign-out")).Click();
        browser.Wait(By.Id("key"));
        Assert.Null(browser.Driver.Manage().Cookies.GetCookieNamed("crew-session"));
    }

    [Fact]
    public void Run_now_asks_first_and_the_runs_page_shows_its_progress_reaching_100_percent_live()
    {
        using var browser = new Browser(stack.GatewayUrl);
        browser.SignIn(DashboardStack.AdminKey);
        browser.Wait(By.Id("run-now")).Click();
        browser.WaitAlert().Dismiss();
        Assert.Equal("", browser.Driver.FindElement(By.CssSelector("#main .outcome")).Text);

        browser.Wait(By.Id("run-now")).Click();
        browser.WaitAlert().Accept();
        browser.WaitText(By.CssSelector("#main .outcome.ok"), "run ");
        var runId = browser.Wait(By.CssSelector("#main .outcome.ok")).Text.Split("run ")[^1].Trim();

        browser.Wait(By.LinkText("Runs")).Click();
        browser.Driver.ExecuteScript("window.sameDocument = true");
        var users = DashboardStack.UserCount + 1;
        var row = By.CssSelector($"tr[data-run='{runId}'] [role=progressbar]");
        browser.Wait(row, e => e.GetAttribute("aria-valuenow") == "100"
            && e.GetAttribute("aria-label")!.Contains($"{users} succeeded, 0 failed, 0 waiting of {users}", StringComparison.Ordinal), RunTimeout);
        Assert.True(browser.Driver.ExecuteScript("return window.sameDocument === true") is true, "the runs page reloaded instead of polling");
        browser.CheckPage("runs", "runs");
    }

    [Fact]
    public async Task A_run_with_failing_users_names_them_with_reasons_and_retry_brings_them_to_succeeded()
    {
        stack.Fake.State.AddScript(["400", "400"]);
        var accepted = await stack.AdminCallAsync(HttpMethod.Post, "/api/scheduler", new { action = "run-now", userUids = new[] { "dash-user-1", "dash-user-2" } });
        var runId = accepted.GetProperty("data").GetProperty("runId").GetString();

        using var browser = new Browser(stack.GatewayUrl);
        browser.SignIn(DashboardStack.AdminKey);
        browser.Wait(By.Id("state"));
        browser.Open($"/#/runs/{runId}");
        browser.WaitText(By.Id("failed"), "2", RunTimeout);
        browser.WaitText(By.Id("run-status"), "completed", RunTimeout);
        var failedUsers = browser.Wait(By.Id("failed-users"), e => e.Text.Contains("dash-user-1", StringComparison.Ordinal) && e.Text.Contains("dash-user-2", StringComparison.Ordinal));
        Assert.Contains("400", failedUsers.Text, StringComparison.Ordinal);
        browser.CheckPage("run-with-failures", "run with failures");

        browser.Click(By.Id("retry-failed"));
        var confirmation = browser.WaitAlert();
        Assert.StartsWith("Retry 2 users (first: dash-user-", confirmation.Text, StringComparison.Ordinal);
        Assert.Contains(": about 2 calls, ", confirmation.Text, StringComparison.Ordinal);
        confirmation.Accept();
        browser.WaitText(By.CssSelector("#main .outcome.ok"), "2 users sent again");
        browser.WaitText(By.Id("succeeded"), "2", RunTimeout);
        browser.WaitText(By.Id("failed"), "0", RunTimeout);
        browser.WaitText(By.Id("run-status"), "completed", RunTimeout);
        browser.Wait(By.CssSelector("#run [role=progressbar]"), e => e.GetAttribute("aria-valuenow") == "100");
        Assert.Empty(browser.Driver.FindElements(By.Id("retry-failed")));
        browser.Screenshot("run-retried");
        browser.AssertNoConsoleErrors("run after retry");
    }

    [Fact]
    public async Task A_run_with_no_failed_users_says_none_under_failed_and_skipped_users_and_nothing_else()
    {
        var runId = await stack.CompletedRunAsync("dash-user-1");

        using var browser = new Browser(stack.GatewayUrl);
        browser.SignIn(DashboardStack.ReadKey);
        browser.Wait(By.Id("state"));
        browser.Open($"/#/runs/{runId}");
        browser.WaitText(By.Id("run-status"), "completed", RunTimeout);
        // Once a stray "null" stood under the list: the missing retry button written as text.
        Assert.Equal("Failed users\nNone.", browser.Wait(By.Id("failed-users")).Text);
        Assert.Equal("Skipped users\nNone.", browser.Wait(By.Id("skipped-users")).Text);
        browser.CheckPage("run-without-failures", "run without failures");
    }

    [Fact]
    public async Task Run_now_confirms_with_the_apis_preview_of_users_calls_spend_and_time_and_cancel_starts_nothing()
    {
        var preview = (await stack.AdminCallAsync(HttpMethod.Post, "/api/scheduler", new { action = "run-now", maxCallsPerRun = 2, dryRun = true })).GetProperty("data");
        Assert.True(preview.GetProperty("dryRun").GetBoolean());
        var count = preview.GetProperty("users").GetProperty("count").GetInt32();
        var first = preview.GetProperty("users").GetProperty("first").EnumerateArray().Select(u => u.GetString()).ToList();
        Assert.Equal(DashboardStack.UserCount + 1, count);
        Assert.Equal(2, preview.GetProperty("expectedCalls").GetInt32());
        var spend = preview.GetProperty("expectedSpend").GetDecimal();
        Assert.True(spend > 0, $"the preview expects no spend: {preview}");
        var newest = await NewestRunIdAsync();

        using var browser = new Browser(stack.GatewayUrl);
        browser.SignIn(DashboardStack.AdminKey);
        browser.Wait(By.Id("run-max-calls")).SendKeys("2");
        browser.Wait(By.Id("run-now")).Click();
        var confirmation = browser.WaitAlert();
        var text = confirmation.Text;
        var more = count > first.Count ? ", ..." : "";
        Assert.StartsWith($"Call {count} users (first: {string.Join(", ", first)}{more}): about 2 calls, ", text, StringComparison.Ordinal);
        Assert.Contains($", {spend.ToString("0.00", CultureInfo.InvariantCulture)} {preview.GetProperty("currency").GetString()}, ~", text, StringComparison.Ordinal);
        Assert.EndsWith(". Start?", text, StringComparison.Ordinal);
        confirmation.Dismiss();
        Assert.Equal("", browser.Driver.FindElement(By.CssSelector("#main .outcome")).Text);
        Assert.Equal(newest, await NewestRunIdAsync());

        browser.Wait(By.Id("run-now")).Click();
        browser.WaitAlert().Accept();
        browser.WaitText(By.CssSelector("#main .outcome.ok"), "run ");
        var runId = browser.Wait(By.CssSelector("#main .outcome.ok")).Text.Split("run ")[^1].Trim();
        Assert.NotEqual(newest, runId);
        var started = (await stack.AdminCallAsync(HttpMethod.Get, $"/api/scheduler/runs/{runId}")).GetProperty("data");
        Assert.Equal(2, started.GetProperty("maxCallsPerRun").GetInt32());
        browser.AssertNoConsoleErrors("overview after a previewed run-now");
        await Eventually.HoldsAsync(
            async () => (await stack.AdminCallAsync(HttpMethod.Get, $"/api/scheduler/runs/{runId}")).GetProperty("data").GetProperty("completedAt").ValueKind == JsonValueKind.String,
            $"run {runId} completed", RunTimeout);
    }

    [Fact]
    public async Task A_running_run_is_cancelled_from_its_page_after_a_confirmation_and_ends_cancelled()
    {
        // Both calls the CrewCaller starts at once wait until the test releases them: the run stays running.
        stack.Fake.State.AddScript(["hold", "hold"]);
        try
        {
            var accepted = await stack.AdminCallAsync(HttpMethod.Post, "/api/scheduler", new { action = "run-now", userUids = new[] { "dash-user-4", "dash-user-5", "dash-user-6" } });
            var runId = accepted.GetProperty("data").GetProperty("runId").GetString();
            await Eventually.HoldsAsync(() => stack.Fake.State.Stats().ScriptedStepsLeft == 0, "both held calls reached the crew API", RunTimeout);

            using var browser = new Browser(stack.GatewayUrl);
            browser.SignIn(DashboardStack.AdminKey);
            browser.Wait(By.Id("state"));
            browser.Open($"/#/runs/{runId}");
            browser.WaitText(By.Id("run-status"), "running");
            browser.Click(By.Id("cancel-run"));
            browser.WaitAlert().Dismiss();
            Assert.Equal(JsonValueKind.Null, (await RunAsync(runId!)).GetProperty("cancelRequestedAt").ValueKind);

            browser.Click(By.Id("cancel-run"));
            browser.WaitAlert().Accept();
            browser.WaitText(By.CssSelector("#main .outcome.ok"), "Run cancelling");
            Assert.Equal(JsonValueKind.String, (await RunAsync(runId!)).GetProperty("cancelRequestedAt").ValueKind);
            browser.WaitText(By.CssSelector("#run .timeline"), "Cancel requested");
            browser.Screenshot("run-cancelling");

            stack.Fake.State.ReleaseHeld();
            browser.WaitText(By.Id("run-status"), "cancelled", RunTimeout);
            var run = await RunAsync(runId!);
            Assert.Equal("cancelled", run.GetProperty("status").GetString());
            browser.WaitText(By.Id("cancelled"), run.GetProperty("cancelled").GetInt32().ToString(CultureInfo.InvariantCulture));
            browser.WaitText(By.CssSelector("#run .timeline"), "Cancelled ");
            Assert.Empty(browser.Driver.FindElements(By.Id("cancel-run")));
            browser.CheckPage("run-cancelled", "cancelled run");
        }
        finally
        {
            stack.Fake.State.ReleaseHeld();
        }
    }

    [Fact]
    public async Task A_run_page_and_the_runs_list_show_its_spend_its_budget_run_out_and_the_users_it_skipped()
    {
        var runId = await stack.CompletedRunNowAsync(new { action = "run-now", userUids = new[] { "dash-user-1", "dash-user-2", "dash-user-3" }, maxCallsPerRun = 2 });
        var run = await RunAsync(runId);
        var spent = $"{run.GetProperty("spent").GetDecimal().ToString("0.00", CultureInfo.InvariantCulture)} {run.GetProperty("currency").GetString()}";
        Assert.Equal(2 * DashboardStack.CostPerCall, run.GetProperty("spent").GetDecimal());
        Assert.True(run.GetProperty("budgetExhausted").GetBoolean());
        var skipped = Assert.Single(run.GetProperty("skippedUsers").EnumerateArray().ToList());
        Assert.Equal("budget", skipped.GetProperty("reason").GetString());

        using var browser = new Browser(stack.GatewayUrl);
        browser.SignIn(DashboardStack.ReadKey);
        browser.Wait(By.Id("state"));
        browser.Open($"/#/runs/{runId}");
        browser.WaitText(By.Id("run-status"), "completed · budget exhausted");
        Assert.Equal(spent, browser.Wait(By.Id("spent")).Text);
        Assert.Equal("2 calls per run · exhausted: the users left were skipped", browser.Wait(By.Id("budget")).Text);
        var skippedUsers = browser.Wait(By.Id("skipped-users")).Text;
        Assert.Contains($"{skipped.GetProperty("userUid").GetString()} budget", skippedUsers, StringComparison.Ordinal);
        browser.CheckPage("run-spend", "run with its spend and budget");

        browser.Open("/#/runs");
        browser.WaitText(By.CssSelector($"tr[data-run='{runId}'] .spent"), spent);
        browser.WaitText(By.CssSelector($"tr[data-run='{runId}']"), "completed · budget exhausted");
        browser.AssertNoConsoleErrors("runs with spend");
    }

    [Fact]
    public async Task A_schedules_budget_is_set_and_cleared_on_the_schedules_page_beside_its_spend_today_and_this_month()
    {
        try
        {
            using var browser = new Browser(stack.GatewayUrl);
            browser.SignIn(DashboardStack.AdminKey);
            browser.Wait(By.LinkText("Schedules")).Click();
            browser.Click(By.CssSelector("#schedule-id option[value='1']"));
            browser.WaitText(By.Id("schedule-form"), "Max spend per day");
            browser.Wait(By.Id("schedule-name"), e => e.GetAttribute("value") == "default");
            SetField(browser, "schedule-maxCallsPerRun", "50");
            SetField(browser, "schedule-maxSpendPerDay", "5");
            browser.Click(By.CssSelector("#schedule-form button[type=submit]"));
            browser.WaitText(By.CssSelector("#schedule-form .outcome.ok"), "Schedule changed");

            var schedule = (await stack.AdminCallAsync(HttpMethod.Get, "/api/scheduler/schedules/1")).GetProperty("data");
            Assert.Equal(50, schedule.GetProperty("maxCallsPerRun").GetInt32());
            Assert.Equal(JsonValueKind.Null, schedule.GetProperty("maxSpendPerRun").ValueKind);
            Assert.Equal(5m, schedule.GetProperty("maxSpendPerDay").GetDecimal());
            var currency = schedule.GetProperty("currency").GetString();
            string Money(string field) => $"{schedule.GetProperty(field).GetDecimal().ToString("0.00", CultureInfo.InvariantCulture)} {currency}";
            browser.WaitText(By.CssSelector("tr[data-schedule='1'] .budget"), $"50 calls per run, 5.00 {currency} per day");
            browser.WaitText(By.CssSelector("tr[data-schedule='1'] .spent-today"), $"{Money("spentToday")} of 5.00 {currency}");
            browser.WaitText(By.CssSelector("tr[data-schedule='1'] .spent-month"), Money("spentThisMonth"));
            Assert.Equal(schedule.GetProperty("budgetExhaustedToday").GetBoolean(),
                browser.Wait(By.CssSelector("tr[data-schedule='1'] .spent-today")).Text.Contains("daily budget exhausted", StringComparison.Ordinal));
            browser.CheckPage("schedules", "schedules with a budget");

            // An empty budget field clears the limit.
            SetField(browser, "schedule-maxCallsPerRun", "");
            SetField(browser, "schedule-maxSpendPerDay", "");
            browser.Click(By.CssSelector("#schedule-form button[type=submit]"));
            browser.WaitText(By.CssSelector("tr[data-schedule='1'] .budget"), "no limit");
            schedule = (await stack.AdminCallAsync(HttpMethod.Get, "/api/scheduler/schedules/1")).GetProperty("data");
            Assert.Equal(JsonValueKind.Null, schedule.GetProperty("maxCallsPerRun").ValueKind);
            Assert.Equal(JsonValueKind.Null, schedule.GetProperty("maxSpendPerDay").ValueKind);
            browser.AssertNoConsoleErrors("schedules after clearing the budget");
        }
        finally
        {
            // The other tests run the default schedule's users without a limit (unchecked here: a failure above is the one to see).
            using var client = stack.AdminClient();
            using var restored = await client.PatchAsJsonAsync("/api/scheduler/schedules/1", new Dictionary<string, object?> { ["maxCallsPerRun"] = null, ["maxSpendPerDay"] = null });
        }
    }

    [Fact]
    public async Task The_pause_dialog_takes_a_note_and_an_end_and_the_schedules_table_shows_them_with_who_paused()
    {
        using var created = await stack.AdminClient().PostAsJsonAsync("/api/scheduler/schedules", new { name = "dash-pause", intervalMinutes = 60 });
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").GetProperty("id").GetInt32();
        try
        {
            using var browser = new Browser(stack.GatewayUrl);
            browser.SignIn(DashboardStack.AdminKey);
            browser.Wait(By.LinkText("Schedules")).Click();
            browser.Click(By.CssSelector($"tr[data-schedule='{id}'] .pause-open"));
            browser.Wait(By.Id("pause-dialog"), e => e.Displayed);
            SetField(browser, "pause-note", "Vendor maintenance");
            // The browser's own datetime-local value (its zone): one day ahead, to the minute.
            var local = (string)browser.Driver.ExecuteScript(
                "const d = new Date(Date.now() + 86400000); d.setSeconds(0, 0); const p = (n) => String(n).padStart(2, '0');"
                + " const v = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;"
                + " document.getElementById('pause-until').value = v; return new Date(v).toISOString();")!;
            browser.Click(By.Id("pause-confirm"));
            browser.WaitText(By.Id("pause-outcome"), "Schedule paused");

            var schedule = (await stack.AdminCallAsync(HttpMethod.Get, $"/api/scheduler/schedules/{id}")).GetProperty("data");
            Assert.False(schedule.GetProperty("isRunning").GetBoolean());
            Assert.Equal("Vendor maintenance", schedule.GetProperty("pauseNote").GetString());
            Assert.Equal(DateTimeOffset.Parse(local, CultureInfo.InvariantCulture), schedule.GetProperty("pausedUntil").GetDateTimeOffset());
            // The session signed in with the key named ops: the gateway names it.
            const string pausedBy = "ops";
            Assert.Equal(pausedBy, schedule.GetProperty("pausedBy").GetString());
            var shownUntil = (string)browser.Driver.ExecuteScript("return new Date(arguments[0]).toLocaleString();", local)!;
            browser.WaitText(By.CssSelector($"tr[data-schedule='{id}'] .pause"), $"paused by {pausedBy}");
            browser.WaitText(By.CssSelector($"tr[data-schedule='{id}'] .pause"), $"until {shownUntil}");
            browser.WaitText(By.CssSelector($"tr[data-schedule='{id}'] .pause"), "“Vendor maintenance”");
            browser.CheckPage("schedules-paused", "schedules with a paused one");

            browser.Click(By.CssSelector($"tr[data-schedule='{id}'] .resume"));
            browser.WaitText(By.CssSelector($"tr[data-schedule='{id}'] .pause"), "running");
            browser.AssertNoConsoleErrors("schedules after a pause and a resume");
        }
        finally
        {
            using var client = stack.AdminClient();
            using var deleted = await client.DeleteAsync($"/api/scheduler/schedules/{id}");
        }
    }

    [Fact]
    public async Task A_cron_schedule_created_on_the_schedules_page_shows_its_next_runs_in_its_time_zone()
    {
        int? id = null;
        try
        {
            using var browser = new Browser(stack.GatewayUrl);
            browser.SignIn(DashboardStack.AdminKey);
            browser.Wait(By.LinkText("Schedules")).Click();
            browser.WaitText(By.Id("schedule-form"), "Or cron");
            browser.Click(By.CssSelector("#schedule-id option[value='']"));
            SetField(browser, "schedule-name", "paris-mornings");
            SetField(browser, "schedule-cron", "0 6 * * 1-5");
            SetField(browser, "schedule-timeZone", "Europe/Paris");
            browser.Click(By.CssSelector("#schedule-form button[type=submit]"));
            browser.WaitText(By.CssSelector("#schedule-form .outcome.ok"), "created");

            var schedules = (await stack.AdminCallAsync(HttpMethod.Get, "/api/scheduler/schedules")).GetProperty("data").EnumerateArray();
            var schedule = schedules.Single(s => s.GetProperty("name").GetString() == "paris-mornings");
            id = schedule.GetProperty("id").GetInt32();
            browser.WaitText(By.CssSelector($"tr[data-schedule='{id}'] .cadence"), "cron 0 6 * * 1-5 (Europe/Paris)");
            var expected = schedule.GetProperty("nextRuns").EnumerateArray().Select(r => r.GetProperty("local").GetString()!).ToList();
            Assert.Equal(5, expected.Count);
            Assert.All(expected, local => Assert.Matches(@"T06:00:00\+0[12]:00$", local));
            var shown = browser.Wait(By.CssSelector($"tr[data-schedule='{id}'] .next-runs"), e => e.FindElements(By.TagName("li")).Count == 5)
                .FindElements(By.TagName("li")).Select(li => li.Text).ToList();
            Assert.Equal(expected, shown);
            browser.AssertNoConsoleErrors("schedules with a cron schedule");
        }
        finally
        {
            if (id is { } created)
            {
                using var client = stack.AdminClient();
                using var deleted = await client.DeleteAsync($"/api/scheduler/schedules/{created}");
            }
        }
    }

    private static void SetField(Browser browser, string id, string text)
    {
        var field = browser.Wait(By.Id(id));
        field.Clear();
        field.SendKeys(text);
    }

    private async Task<JsonElement> RunAsync(string runId) =>
        (await stack.AdminCallAsync(HttpMethod.Get, $"/api/scheduler/runs/{runId}")).GetProperty("data");

    private async Task<string?> NewestRunIdAsync() =>
        (await stack.AdminCallAsync(HttpMethod.Get, "/api/scheduler/runs?limit=1")).GetProperty("data").EnumerateArray().Select(r => r.GetProperty("id").GetString()).FirstOrDefault();

    [Fact]
    public void Answers_are_searched_by_user_and_dates_and_an_answer_shows_its_request_and_json()
    {
        using var browser = new Browser(stack.GatewayUrl);
        browser.SignIn(DashboardStack.ReadKey);
        browser.Wait(By.Id("state"));
        browser.Wait(By.LinkText("Answers")).Click();
        browser.Wait(By.Id("user")).SendKeys(DashboardStack.AnsweredUser);
        browser.Wait(By.Id("from")).SendKeys("01012000");
        browser.Wait(By.Id("user")).SendKeys(Keys.Enter);
        browser.WaitText(By.Id("answers-total"), "3 answers");
        Assert.Contains("from=2000-01-01", browser.Driver.Url, StringComparison.Ordinal);
        browser.CheckPage("answers", "answers");

        // The newest of the three: the crew's usual shape reads as questions and answers, the JSON one click away.
        browser.Wait(By.CssSelector("#answers a[href^='#/answers/']")).Click();
        browser.WaitText(By.CssSelector("#answer-readable h3"), "Question 1: Who buys?");
        Assert.Equal(["Commuters 3"], browser.Driver.FindElements(By.CssSelector("#answer-readable li")).Select(li => li.Text.Replace("changed", "", StringComparison.Ordinal).Trim()));
        Assert.False(browser.Driver.FindElement(By.Id("answer-json")).Displayed);
        browser.Wait(By.CssSelector("#raw summary")).Click();
        var json = browser.Wait(By.Id("answer-json"), e => e.Displayed);
        Assert.Contains("\"Question 1\": \"Who buys?\"", json.Text, StringComparison.Ordinal);
        browser.WaitText(By.Id("main"), "Bikes, answer");

        // Beside it, what changed since the user's previous answer: the pointer, the old and the new value.
        browser.WaitText(By.Id("changes-state"), "1 modified, 0 added, 0 removed");
        Assert.Equal(
            ["modified", "/Questions/0/Answers/0", "Commuters 2", "Commuters 3"],
            browser.Wait(By.CssSelector("#changes tbody tr")).FindElements(By.TagName("td")).Select(td => td.Text));
        Assert.Contains("changed", browser.Wait(By.CssSelector("#answer-readable li.changed")).Text, StringComparison.Ordinal);
        Assert.EndsWith(".json", browser.Wait(By.Id("download")).GetAttribute("download"), StringComparison.Ordinal);
        browser.CheckPage("answer", "answer");

        browser.Wait(By.CssSelector($"a[href='#/users/{DashboardStack.AnsweredUser}']")).Click();
        browser.WaitText(By.Id("answers-total"), "3 answers");
        browser.CheckPage("user", "user");
    }

    [Fact]
    public async Task A_first_answer_says_so_an_unchanged_one_says_so_and_another_shape_stays_json()
    {
        // In the host's table for this test only: the runs of the other tests call the table's users.
        const string user = "dash-changes";
        await stack.AddUsersAsync([(user, "Bikes", "Sell more")]);
        try
        {
            var ids = new List<int>();
            foreach (var data in new object[] { new { score = 1, tags = new[] { "<b>bold</b>" } }, new { score = 1, tags = new[] { "<b>bold</b>" } } })
            {
                ids.Add((await stack.AdminCallAsync(HttpMethod.Post, "/api/crew-responses", new { userUid = user, responseData = data })).GetProperty("data").GetProperty("id").GetInt32());
            }

            using var browser = new Browser(stack.GatewayUrl);
            browser.SignIn(DashboardStack.ReadKey);
            browser.Wait(By.Id("state"));
            browser.Open($"/#/answers/{ids[0]}");
            browser.WaitText(By.Id("changes-state"), "First answer");
            Assert.Empty(browser.Driver.FindElements(By.Id("answer-readable")));
            var json = browser.Wait(By.Id("answer-json"), e => e.Displayed); // not the crew's shape: its JSON, open
            Assert.Contains("\"<b>bold</b>\"", json.Text, StringComparison.Ordinal); // as text, never as markup
            Assert.Empty(browser.Driver.FindElements(By.CssSelector("#main b")));

            browser.Open($"/#/answers/{ids[1]}");
            browser.WaitText(By.Id("changes-state"), $"Unchanged since the previous answer #{ids[0]}.");
            browser.Click(By.LinkText($"#{ids[0]}"));
            browser.WaitText(By.Id("main"), $"Answer #{ids[0]}");
            browser.AssertNoConsoleErrors("first and unchanged answers");
        }
        finally
        {
            await stack.ExecuteAsync("DELETE FROM users WHERE uid = $1", user);
        }
    }

    [Fact]
    public async Task Answers_beyond_one_page_show_their_total_and_page_on()
    {
        // In the host's table for this test only: the runs of the other tests call the table's users.
        const string user = "dash-many-answers";
        await stack.AddUsersAsync([(user, "Bikes", "Sell more")]);
        try
        {
            for (var i = 1; i <= 21; i++)
            {
                await stack.AdminCallAsync(HttpMethod.Post, "/api/crew-responses", new { userUid = user, responseData = new { n = i } });
            }

            using var browser = new Browser(stack.GatewayUrl);
            browser.SignIn(DashboardStack.ReadKey);
            browser.Wait(By.Id("state"));
            browser.Open($"/#/answers?user={user}");
            browser.WaitText(By.Id("answers-total"), "21 answers");
            Assert.Equal(20, browser.Driver.FindElements(By.CssSelector("#answers a[href^='#/answers/']")).Count);

            browser.Click(By.LinkText("Older →"));
            browser.WaitText(By.CssSelector(".pager span"), "Page 2");
            browser.Wait(By.CssSelector("#answers a[href^='#/answers/']"), _ => browser.Driver.FindElements(By.CssSelector("#answers a[href^='#/answers/']")).Count == 1);
        }
        finally
        {
            await stack.ExecuteAsync("DELETE FROM users WHERE uid = $1", user);
        }
    }

    [Fact]
    public void Answers_are_searched_by_their_words_and_by_a_json_path_and_a_bad_path_says_why()
    {
        using var browser = new Browser(stack.GatewayUrl);
        browser.SignIn(DashboardStack.ReadKey);
        browser.Wait(By.Id("state"));
        browser.Wait(By.LinkText("Answers")).Click();
        browser.Wait(By.Id("words")).SendKeys("commuters 2");
        browser.Wait(By.Id("user")).SendKeys(DashboardStack.AnsweredUser + Keys.Enter);
        browser.WaitText(By.Id("answers-total"), "1 answers");
        Assert.Contains("words=commuters+2", browser.Driver.Url, StringComparison.Ordinal);

        browser.Open($"/#/answers?user={DashboardStack.AnsweredUser}");
        browser.Wait(By.CssSelector("#answer-search .advanced summary")).Click();
        browser.Wait(By.Id("path")).SendKeys("exists($.Questions[*].Answers[*] ? (@ like_regex \"Commuters [13]\"))" + Keys.Enter);
        browser.WaitText(By.Id("answers-total"), "2 answers");
        browser.CheckPage("answers-search", "answers searched by a JSON path");

        // Last: the browser logs the refused request itself, which the page checks above would count as an error.
        var path = browser.Wait(By.Id("path"));
        path.Clear();
        path.SendKeys("$$" + Keys.Enter);
        browser.WaitText(By.CssSelector("#results .error"), "jsonPath is not a valid SQL/JSON path");
    }

    [Fact]
    public void A_read_key_sees_no_control_buttons()
    {
        using var browser = new Browser(stack.GatewayUrl);
        browser.SignIn(DashboardStack.ReadKey);
        browser.WaitText(By.Id("identity"), "viewer (read)");
        browser.Wait(By.Id("state"));
        Assert.Empty(browser.Driver.FindElements(By.Id("controls")));
        Assert.DoesNotContain(browser.Driver.FindElements(By.TagName("button")), b => b.GetAttribute("id") != "sign-out");
        browser.AssertNoConsoleErrors("overview (read)");
    }

    [Fact]
    public void The_overview_says_whether_the_crew_api_is_reachable_paused_by_its_circuit_until_when_or_the_crew_caller_unreachable()
    {
        using var browser = new Browser(stack.GatewayUrl);
        browser.SignIn(DashboardStack.ReadKey);
        browser.WaitText(By.CssSelector("#crew-api [data-endpoint='default']"), "reachable (circuit closed)");
        Assert.Contains("each keeps its own circuits", browser.Wait(By.Id("crew-api")).GetAttribute("title"), StringComparison.Ordinal);

        var openSince = DateTimeOffset.UtcNow.AddMinutes(-2);
        var openUntil = openSince.AddMinutes(30);
        stack.CrewCallerStubAnswer = (HttpStatusCode.OK, JsonSerializer.Serialize(new
        {
            success = true,
            count = 1,
            data = new[] { new { name = "default", circuit = "open", openSince, openUntil, lastFailure = "HTTP 503 from crew API", lastFailureAt = openSince, maxConcurrency = 2, inFlight = 2 } },
        }));
        try
        {
            var hhmm = (string)browser.Driver.ExecuteScript(
                "return new Date(arguments[0]).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })", openUntil.ToString("O"))!;
            var open = browser.Wait(By.CssSelector("#crew-api [data-circuit='open']"), null, TimeSpan.FromSeconds(20));
            Assert.Contains($"paused: circuit open until {hhmm}", open.Text, StringComparison.Ordinal);
            Assert.Contains("2 of 2 calls in flight", open.Text, StringComparison.Ordinal);
            Assert.Contains("HTTP 503 from crew API", open.Text, StringComparison.Ordinal);
            browser.CheckPage("overview-circuit-open", "overview with an open circuit");

            // No CrewCaller behind the gateway: the gateway's answer when no backend is healthy.
            stack.CrewCallerStubAnswer = (HttpStatusCode.ServiceUnavailable, """{"success":false,"error":"Service unavailable: no healthy backend for this route"}""");
            browser.WaitText(By.CssSelector("#crew-api [data-circuit='unreachable']"), "the CrewCaller is unreachable or not running (Service unavailable", TimeSpan.FromSeconds(20));
            Assert.All(browser.ConsoleErrors(), e => Assert.Contains("/api/crew-caller/endpoints - Failed to load resource: the server responded with a status of 503", e, StringComparison.Ordinal));
            browser.Screenshot("overview-crew-caller-unreachable");
            browser.AssertAccessible("overview with the CrewCaller unreachable");
        }
        finally
        {
            stack.CrewCallerStubAnswer = null;
        }
    }

    [Fact]
    public async Task Change_interval_on_the_overview_shows_the_apis_answer_and_an_invalid_value_the_apis_error()
    {
        using var browser = new Browser(stack.GatewayUrl);
        browser.SignIn(DashboardStack.AdminKey);
        var interval = browser.Wait(By.Id("interval-minutes"));
        interval.Clear();
        interval.SendKeys("13");
        browser.Wait(By.Id("change-interval")).Click();
        browser.WaitText(By.CssSelector("#main .outcome.ok"), "Schedule changed");
        browser.WaitText(By.Id("interval"), "13 minutes");
        Assert.Equal(13, (await stack.AdminCallAsync(HttpMethod.Get, "/api/scheduler")).GetProperty("data").GetProperty("intervalMinutes").GetInt32());
        browser.AssertNoConsoleErrors("overview after changing the interval");

        var refusal = await stack.AdminErrorAsync(HttpMethod.Patch, "/api/scheduler/schedules/1", new { intervalMinutes = 0 });
        interval = browser.Wait(By.Id("interval-minutes"));
        interval.Clear();
        interval.SendKeys("0");
        browser.Wait(By.Id("change-interval")).Click();
        browser.WaitText(By.CssSelector("#main .outcome.error"), refusal);
        Assert.Contains("13 minutes", browser.Wait(By.Id("interval")).Text, StringComparison.Ordinal);
        Assert.All(browser.ConsoleErrors(), e => Assert.Contains("/api/scheduler/schedules/1 - Failed to load resource: the server responded with a status of 400", e, StringComparison.Ordinal));
        browser.Screenshot("overview-interval-refused");
        browser.AssertAccessible("overview after a refused interval");
    }

    [Fact]
    public async Task The_chart_shows_each_finished_runs_duration_and_success_rate_as_the_scheduler_holds_them()
    {
        stack.Fake.State.AddScript(["ok", "400"]);
        var halfFailed = await stack.CompletedRunAsync("dash-user-5", "dash-user-6");

        using var browser = new Browser(stack.GatewayUrl);
        browser.SignIn(DashboardStack.ReadKey);
        browser.Wait(By.CssSelector($"#chart rect[data-run='{halfFailed}']"));
        var runs = (await stack.AdminCallAsync(HttpMethod.Get, "/api/scheduler/runs?limit=30")).GetProperty("data").EnumerateArray()
            .Where(r => r.GetProperty("completedAt").ValueKind == JsonValueKind.String).ToList();
        var bars = browser.Driver.FindElements(By.CssSelector("#chart rect[data-run]"));
        Assert.Equal(runs.Count, bars.Count);
        foreach (var run in runs)
        {
            var bar = bars.Single(b => b.GetAttribute("data-run") == run.GetProperty("id").GetString());
            var seconds = (run.GetProperty("completedAt").GetDateTimeOffset() - run.GetProperty("startedAt").GetDateTimeOffset()).TotalSeconds;
            // The page's dates have milliseconds, the API's microseconds.
            Assert.Equal(seconds, double.Parse(bar.GetAttribute("data-seconds")!, System.Globalization.CultureInfo.InvariantCulture), tolerance: 0.002);
            var (succeeded, failed) = (run.GetProperty("succeeded").GetInt32(), run.GetProperty("failed").GetInt32());
            var percent = succeeded + failed == 0 ? 100 : (int)Math.Round(100.0 * succeeded / (succeeded + failed), MidpointRounding.AwayFromZero);
            Assert.Equal(percent.ToString(System.Globalization.CultureInfo.InvariantCulture), bar.GetAttribute("data-success-percent"));
        }

        Assert.Equal("50", bars.Single(b => b.GetAttribute("data-run") == halfFailed).GetAttribute("data-success-percent"));
        browser.CheckPage("overview-chart", "overview with the chart");
    }

    [Fact]
    public async Task An_answers_json_is_copied_and_downloaded_as_the_store_holds_it()
    {
        var stored = (await stack.AdminCallAsync(HttpMethod.Get, $"/api/crew-responses?userUid={DashboardStack.AnsweredUser}&limit=1")).GetProperty("data")[0];
        var id = stored.GetProperty("id").GetInt32();
        var expected = System.Text.Json.Nodes.JsonNode.Parse(stored.GetProperty("responseData").GetRawText());
        var downloads = Directory.CreateTempSubdirectory("dashboard-downloads-").FullName;
        try
        {
            using var browser = new Browser(stack.GatewayUrl);
            browser.AllowClipboardAndDownloads(downloads);
            browser.SignIn(DashboardStack.ReadKey);
            browser.Wait(By.Id("state"));
            browser.Open($"/#/answers/{id}");
            browser.Wait(By.Id("answer-readable"));

            browser.Wait(By.Id("copy")).Click();
            browser.WaitText(By.CssSelector("#main .outcome.ok"), "Copied");
            var copied = (string)browser.Driver.ExecuteAsyncScript(
                "const done = arguments[arguments.length - 1]; navigator.clipboard.readText().then(done, e => done('clipboard refused: ' + e));")!;
            Assert.True(System.Text.Json.Nodes.JsonNode.DeepEquals(expected, System.Text.Json.Nodes.JsonNode.Parse(copied)), $"copied: {copied}");

            browser.Wait(By.Id("download")).Click();
            var file = Path.Combine(downloads, $"answer-{id}.json");
            await Eventually.HoldsAsync(() => File.Exists(file), $"{file} was downloaded", TimeSpan.FromSeconds(30));
            Assert.True(System.Text.Json.Nodes.JsonNode.DeepEquals(expected, System.Text.Json.Nodes.JsonNode.Parse(await File.ReadAllTextAsync(file))));
            browser.AssertNoConsoleErrors("answer after copy and download");
        }
        finally
        {
            Directory.Delete(downloads, recursive: true);
        }
    }

    [Fact]
    public async Task A_runs_progress_bar_is_seen_part_way_and_then_at_100_percent_without_a_reload()
    {
        // The first call answers, the other two wait until the test releases them: the run stays a third done.
        stack.Fake.State.AddScript(["ok", "hold", "hold"]);
        try
        {
            var accepted = await stack.AdminCallAsync(HttpMethod.Post, "/api/scheduler", new { action = "run-now", userUids = new[] { "dash-user-2", "dash-user-3", "dash-user-4" } });
            var runId = accepted.GetProperty("data").GetProperty("runId").GetString();

            using var browser = new Browser(stack.GatewayUrl);
            browser.SignIn(DashboardStack.ReadKey);
            browser.Wait(By.LinkText("Runs")).Click();
            browser.Driver.ExecuteScript("window.sameDocument = true");
            var bar = By.CssSelector($"tr[data-run='{runId}'] [role=progressbar]");
            browser.Wait(bar, e => e.GetAttribute("aria-valuenow") == "33"
                && e.GetAttribute("aria-label")!.Contains("1 succeeded, 0 failed, 2 waiting of 3", StringComparison.Ordinal), RunTimeout);
            await Eventually.HoldsAsync(() => stack.Fake.State.Stats().ScriptedStepsLeft == 0, "both held calls reached the crew API", RunTimeout);
            browser.Screenshot("runs-part-way");
            Assert.Equal("33", browser.Wait(bar).GetAttribute("aria-valuenow"));

            stack.Fake.State.ReleaseHeld();
            browser.Wait(bar, e => e.GetAttribute("aria-valuenow") == "100"
                && e.GetAttribute("aria-label")!.Contains("3 succeeded, 0 failed, 0 waiting of 3", StringComparison.Ordinal), RunTimeout);
            Assert.True(browser.Driver.ExecuteScript("return window.sameDocument === true") is true, "the runs page reloaded instead of polling");
            browser.AssertNoConsoleErrors("runs while a run progresses");
        }
        finally
        {
            stack.Fake.State.ReleaseHeld();
        }
    }

    [Fact]
    public void A_wrong_key_is_refused()
    {
        using var browser = new Browser(stack.GatewayUrl);
        browser.SignIn("not-a-key-of-this-gateway");
        browser.WaitText(By.CssSelector("[role=alert]"), "That key was refused.");
        Assert.Null(browser.Driver.Manage().Cookies.GetCookieNamed("crew-session"));
        Assert.Empty(browser.Driver.FindElements(By.Id("state")));
        browser.Screenshot("sign-in-refused");
        browser.AssertAccessible("sign-in");
    }

    /// <summary>The innermost elements reaching past the screen's right edge, so a failure names what is too wide.</summary>
    private const string WidestElementScript = """
        const w = document.documentElement.clientWidth;
        const past = [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > w + 0.5);
        return past.filter((e) => !past.some((o) => o !== e && e.contains(o))).slice(0, 3)
          .map((e) => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}${e.className ? '.' + e.className : ''} "${e.textContent.slice(0, 60)}"`).join('; ');
        """;

    [Fact]
    public async Task At_390_px_wide_the_pages_fit_the_screen()
    {
        var answerId = (await stack.AdminCallAsync(HttpMethod.Get, $"/api/crew-responses?userUid={DashboardStack.AnsweredUser}&limit=1")).GetProperty("data")[0].GetProperty("id").GetInt32();
        using var browser = new Browser(stack.GatewayUrl, width: 390, height: 844);
        browser.SignIn(DashboardStack.ReadKey);
        browser.Wait(By.Id("state"));
        foreach (var (hash, name) in new[]
                 {
                     ("#/", "overview-390"), ("#/runs", "runs-390"), ("#/schedules", "schedules-390"), ("#/answers", "answers-390"),
                     ($"#/answers/{answerId}", "answer-390"), ($"#/users/{DashboardStack.AnsweredUser}", "user-390"),
                 })
        {
            browser.Open("/" + hash);
            browser.Wait(By.CssSelector("#main h1"));
            var overflow = (long?)browser.Driver.ExecuteScript("return document.documentElement.scrollWidth - document.documentElement.clientWidth");
            var widest = overflow is <= 0 ? null : browser.Driver.ExecuteScript(WidestElementScript);
            Assert.True(overflow is <= 0, $"{name}: the page is {overflow} px wider than the screen ({widest})");
            browser.Screenshot(name);
        }

        browser.AssertNoConsoleErrors("pages at 390 px");
    }

    [Fact]
    public async Task A_session_is_accepted_on_the_api_with_its_role_and_control_calls_need_its_anti_forgery_token()
    {
        using var handler = new HttpClientHandler { CookieContainer = new CookieContainer() };
        using var client = new HttpClient(handler) { BaseAddress = stack.GatewayUrl };

        using var refused = await client.PostAsJsonAsync("/dashboard/session", new { key = "not-a-key-of-this-gateway" });
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        using var noKey = await client.PostAsync("/dashboard/session", new StringContent("not json"));
        Assert.Equal(HttpStatusCode.BadRequest, noKey.StatusCode);

        using var signedIn = await client.PostAsJsonAsync("/dashboard/session", new { key = DashboardStack.AdminKey });
        signedIn.EnsureSuccessStatusCode();
        var token = (await signedIn.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").GetProperty("antiForgeryToken").GetString();
        var setCookie = string.Join(";", signedIn.Headers.GetValues("Set-Cookie")).ToLowerInvariant();
        Assert.Contains("httponly", setCookie, StringComparison.Ordinal);
        Assert.Contains("samesite=strict", setCookie, StringComparison.Ordinal);

        using var status = await client.GetAsync("/api/scheduler");
        Assert.Equal(HttpStatusCode.OK, status.StatusCode);

        using var forged = await client.PostAsJsonAsync("/api/scheduler", new { action = "stop" });
        Assert.Equal(HttpStatusCode.Forbidden, forged.StatusCode);
        Assert.Contains("anti-forgery", (await forged.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);

        using var stop = new HttpRequestMessage(HttpMethod.Post, "/api/scheduler") { Content = JsonContent.Create(new { action = "stop" }) };
        stop.Headers.Add("X-Crew-Anti-Forgery", token);
        using var stopped = await client.SendAsync(stop);
        Assert.Equal(HttpStatusCode.OK, stopped.StatusCode);

        // A Bearer client is judged by its key alone, cookie or not.
        using var bearer = stack.AdminClient();
        using var bearerStop = await bearer.PostAsJsonAsync("/api/scheduler", new { action = "stop" });
        Assert.Equal(HttpStatusCode.OK, bearerStop.StatusCode);

        using var readHandler = new HttpClientHandler { CookieContainer = new CookieContainer() };
        using var reader = new HttpClient(readHandler) { BaseAddress = stack.GatewayUrl };
        using var readSession = await reader.PostAsJsonAsync("/dashboard/session", new { key = DashboardStack.ReadKey });
        var readToken = (await readSession.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").GetProperty("antiForgeryToken").GetString();
        using var readStop = new HttpRequestMessage(HttpMethod.Post, "/api/scheduler") { Content = JsonContent.Create(new { action = "stop" }) };
        readStop.Headers.Add("X-Crew-Anti-Forgery", readToken);
        using var readRefused = await reader.SendAsync(readStop);
        Assert.Equal(HttpStatusCode.Forbidden, readRefused.StatusCode);
        Assert.Contains("role 'read'", (await readRefused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);

        using var signOut = new HttpRequestMessage(HttpMethod.Post, "/dashboard/session/sign-out");
        signOut.Headers.Add("X-Crew-Anti-Forgery", token);
        (await client.SendAsync(signOut)).EnsureSuccessStatusCode();
        using var afterSignOut = await client.GetAsync("/api/scheduler");
        Assert.Equal(HttpStatusCode.Unauthorized, afterSignOut.StatusCode);
    }
    /// <summary>The audit page's rows as the browser shows them: each row's cells' text (When, Who, Action, Target, From, Details).</summary>
    private static List<string[]> AuditRows(Browser browser) =>
        ((IEnumerable<object>)browser.Driver.ExecuteScript(
            "return [...document.querySelectorAll('#audit-entries tr[data-audit]')].map((r) => [...r.cells].map((c) => c.innerText))")!)
        .Select(row => ((IEnumerable<object>)row).Select(cell => (string)cell).ToArray())
        .ToList();

    /// <summary>The ids of the audit page's rows.</summary>
    private static List<long> AuditIds(Browser browser) =>
        ((IEnumerable<object>)browser.Driver.ExecuteScript("return [...document.querySelectorAll('#audit-entries tr[data-audit]')].map((r) => r.dataset.audit)")!)
        .Select(id => long.Parse((string)id, CultureInfo.InvariantCulture))
        .ToList();

    private async Task<int> CreatePausedScheduleAsync(string key, string name, string note)
    {
        using var client = stack.Client(key);
        using var created = await client.PostAsJsonAsync("/api/scheduler/schedules", new { name, intervalMinutes = 60 });
        Assert.True(created.IsSuccessStatusCode, $"creating {name} answered {(int)created.StatusCode}");
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").GetProperty("id").GetInt32();
        using var paused = await client.PostAsJsonAsync($"/api/scheduler/schedules/{id}/pause", new { note });
        Assert.True(paused.IsSuccessStatusCode, $"pausing {name} answered {(int)paused.StatusCode}");
        return id;
    }

    [Fact]
    public async Task Audit_page_filtered_by_one_key_shows_its_actions_and_its_sign_in_and_none_of_the_other_keys()
    {
        var opsId = await CreatePausedScheduleAsync(DashboardStack.AdminKey, "dash-audit-ops", "ops pause");
        var onCallId = await CreatePausedScheduleAsync(DashboardStack.OnCallKey, "dash-audit-oncall", "oncall pause");
        try
        {
            using var browser = new Browser(stack.GatewayUrl);
            browser.SignIn(DashboardStack.OnCallKey);
            browser.WaitText(By.Id("identity"), "oncall (admin)");
            browser.Wait(By.LinkText("Audit")).Click();

            // Unfiltered, newest first: both keys' actions.
            browser.Wait(By.Id("audit-entries"), _ => AuditRows(browser) is var rows
                && rows.Any(r => r[1] == "ops" && r[2] == "schedule.pause" && r[3] == $"schedule:{opsId}")
                && rows.Any(r => r[1] == "oncall" && r[2] == "schedule.pause" && r[3] == $"schedule:{onCallId}"));

            browser.Wait(By.Id("actor")).SendKeys("oncall" + Keys.Enter);
            browser.Wait(By.Id("audit-entries"), _ => browser.Driver.Url.Contains("#/audit?actor=oncall", StringComparison.Ordinal)
                && AuditRows(browser) is { Count: > 0 } rows && rows.All(r => r[1] == "oncall"));
            var shown = AuditRows(browser);
            Assert.Contains(shown, r => r[2] == "schedule.create" && r[3] == $"schedule:{onCallId}" && r[5].Contains("dash-audit-oncall", StringComparison.Ordinal));
            var pause = Assert.Single(shown, r => r[2] == "schedule.pause" && r[3] == $"schedule:{onCallId}");
            Assert.Matches(@"note:\s*oncall pause", pause[5]);
            Assert.Matches(@"^\S+$", pause[4]);
            // Newest first: the sign-in of this browser is the key's last action.
            Assert.Equal(("session.sign-in", "session"), (shown[0][2], shown[0][3]));
            Assert.DoesNotContain(shown, r => r[1] == "ops" || r[3] == $"schedule:{opsId}");
            browser.CheckPage("audit-filtered", "audit filtered by actor");

            // The filtered view is a link: opened as such, it shows the other key's actions and none of this one's.
            browser.Open("/#/audit?actor=ops&action=schedule.pause");
            browser.Wait(By.Id("audit-entries"), _ => AuditRows(browser) is { Count: > 0 } rows
                && rows.All(r => r[1] == "ops" && r[2] == "schedule.pause") && rows.Any(r => r[3] == $"schedule:{opsId}"));
            Assert.Equal("ops", browser.Wait(By.Id("actor")).GetAttribute("value"));
            Assert.Equal("schedule.pause", browser.Wait(By.Id("action")).GetAttribute("value"));
            browser.AssertNoConsoleErrors("audit opened filtered");
        }
        finally
        {
            using var client = stack.AdminClient();
            using var deletedOps = await client.DeleteAsync($"/api/scheduler/schedules/{opsId}");
            using var deletedOnCall = await client.DeleteAsync($"/api/scheduler/schedules/{onCallId}");
        }
    }

    [Fact]
    public async Task Audit_page_offers_every_audited_action_filters_by_dates_and_pages_to_older_entries_and_back_to_the_newest()
    {
        var today = DateTime.UtcNow.Date;
        // One more sign-in of one key than a page holds: each is one row.
        for (var i = 0; i <= PageSize; i++)
        {
            using var handler = new HttpClientHandler { CookieContainer = new CookieContainer() };
            using var client = new HttpClient(handler) { BaseAddress = stack.GatewayUrl };
            using var signedIn = await client.PostAsJsonAsync("/dashboard/session", new { key = DashboardStack.OnCallKey });
            signedIn.EnsureSuccessStatusCode();
        }

        using var browser = new Browser(stack.GatewayUrl);
        browser.SignIn(DashboardStack.AdminKey);
        browser.WaitText(By.Id("identity"), "ops (admin)");
        browser.Open("/#/audit?actor=oncall&action=session.sign-in");
        var offered = browser.Wait(By.Id("action")).FindElements(By.TagName("option")).Select(o => o.GetAttribute("value")).ToList();
        Assert.Equal(new[] { "" }.Concat(AuditActions.All), offered);

        browser.Wait(By.Id("audit-entries"), _ => AuditRows(browser).Count == PageSize);
        Assert.All(AuditRows(browser), r => Assert.Equal(("oncall", "session.sign-in"), (r[1], r[2])));
        var newestIds = AuditIds(browser);
        browser.WaitText(By.CssSelector(".pager span"), "Page 1");
        Assert.Empty(browser.Driver.FindElements(By.LinkText("← Newest")));

        browser.Click(By.LinkText("Older →"));
        browser.WaitText(By.CssSelector(".pager span"), "Page 2");
        Assert.Contains("actor=oncall", browser.Driver.Url, StringComparison.Ordinal);
        var older = AuditRows(browser);
        Assert.NotEmpty(older);
        Assert.All(older, r => Assert.Equal(("oncall", "session.sign-in"), (r[1], r[2])));
        Assert.True(AuditIds(browser).Max() < newestIds.Min(), "page 2 holds only entries older than page 1's");
        browser.CheckPage("audit-older", "audit, older entries");

        browser.Click(By.LinkText("← Newest"));
        browser.WaitText(By.CssSelector(".pager span"), "Page 1");
        Assert.DoesNotContain("after=", browser.Driver.Url, StringComparison.Ordinal);
        browser.Wait(By.Id("audit-entries"), _ => AuditIds(browser).SequenceEqual(newestIds));

        var from = today.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        browser.Open($"/#/audit?actor=oncall&action=session.sign-in&from={from}");
        browser.Wait(By.Id("audit-entries"), _ => AuditIds(browser).SequenceEqual(newestIds));
        Assert.Equal(from, browser.Wait(By.Id("from")).GetAttribute("value"));
        var before = today.AddDays(-1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        browser.Open($"/#/audit?actor=oncall&to={before}");
        browser.WaitText(By.Id("audit-entries"), "No entry found.");
        Assert.Equal(before, browser.Wait(By.Id("to")).GetAttribute("value"));
        browser.AssertNoConsoleErrors("audit filtered by dates");
    }

    [Fact]
    public async Task Audit_page_for_a_read_session_has_no_link_and_shows_the_apis_refusal()
    {
        using var reader = stack.Client(DashboardStack.ReadKey);
        using var refused = await reader.GetAsync("/api/audit");
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        var error = (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString()!;

        using var browser = new Browser(stack.GatewayUrl);
        browser.SignIn(DashboardStack.ReadKey);
        browser.WaitText(By.Id("identity"), "viewer (read)");
        Assert.False(browser.Driver.FindElement(By.Id("nav-audit")).Displayed);
        browser.Open("/#/audit");
        browser.WaitText(By.CssSelector("#results .error[role=alert]"), error);
        browser.Screenshot("audit-refused");
        // The refused request is the browser's only complaint.
        Assert.All(browser.ConsoleErrors(), e => Assert.Contains("/api/audit?limit=20 - Failed to load resource: the server responded with a status of 403", e, StringComparison.Ordinal));
        browser.AssertAccessible("audit refused to a read session");
    }
}
