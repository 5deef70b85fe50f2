using System.Globalization;
using System.Text.Json;

namespace CrewPlatform.FakeCrewApi.Apis;

/// <summary><c>POST /run-crew</c>, shaped like the real crew API, misbehaving as the behaviour or the script says.</summary>
public static class RunCrewApi
{
    public static IEndpointRouteBuilder MapRunCrewApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/run-crew", RunCrewAsync);
        return app;
    }

    private static async Task RunCrewAsync(HttpContext http, FakeCrewState state)
    {
        state.Entered();
        try
        {
            var (valid, context, goal) = await TryReadRequestAsync(http.Request, http.RequestAborted);
            if (!valid)
            {
                // The real API is a FastAPI app; it answers a body it cannot validate with 422.
                await AnswerAsync(http, state, StatusCodes.Status422UnprocessableEntity, """{"detail":"body must be a JSON object with customer_business_background_latest and customer_goal_latest"}""");
                return;
            }

            var idempotencyKey = http.Request.Headers.TryGetValue("Idempotency-Key", out var key) ? key.ToString() : null;
            var (plan, latency, behaviour) = state.Receive(context, goal, idempotencyKey);
            if (plan == Plans.Hang)
            {
                await HangAsync(state, http.RequestAborted);
                return;
            }

            if (plan == Plans.Reset)
            {
                http.Abort();
                return;
            }

            if (plan == Plans.Hold)
            {
                await state.Released.WaitAsync(http.RequestAborted);
            }

            await Task.Delay(latency, http.RequestAborted);
            switch (plan)
            {
                case Plans.Ok or Plans.Hold:
                    await AnswerAsync(http, state, StatusCodes.Status200OK, CrewAnswers.For(context, goal, behaviour.CostPerAnswer).ToJsonString());
                    break;
                case Plans.NonJson:
                    await AnswerAsync(http, state, StatusCodes.Status200OK, "Agent stopped due to iteration limit or time limit.", "text/plain");
                    break;
                default:
                    var status = int.Parse(plan, CultureInfo.InvariantCulture);
                    if (status is StatusCodes.Status429TooManyRequests or StatusCodes.Status503ServiceUnavailable)
                    {
                        http.Response.Headers.RetryAfter = behaviour.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
                    }

                    await AnswerAsync(http, state, status, JsonSerializer.Serialize(new { detail = $"fake crew answered {status}" }));
                    break;
            }
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            state.Abandoned();
        }
        finally
        {
            state.Left();
        }
    }

    private static async Task<(bool Valid, string? Context, string? Goal)> TryReadRequestAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        try
        {
            using var body = await JsonDocument.ParseAsync(request.Body, cancellationToken: cancellationToken);
            var root = body.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !TryString(root, "customer_business_background_latest", out var context)
                || !TryString(root, "customer_goal_latest", out var goal))
            {
                return (false, null, null);
            }

            return (true, context, goal);
        }
        catch (JsonException)
        {
            return (false, null, null);
        }
    }

    private static bool TryString(JsonElement root, string name, out string? value)
    {
        value = null;
        if (!root.TryGetProperty(name, out var property))
        {
            return false;
        }

        if (property.ValueKind == JsonValueKind.String)
        {
            value = property.GetString();
            return true;
        }

        return property.ValueKind == JsonValueKind.Null;
    }

    private static async Task HangAsync(FakeCrewState state, CancellationToken requestAborted)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, requestAborted);
        }
        catch (OperationCanceledException)
        {
            state.Abandoned();
        }
    }

    private static async Task AnswerAsync(HttpContext http, FakeCrewState state, int status, string body, string contentType = "application/json")
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = contentType;
        await http.Response.WriteAsync(body, http.RequestAborted);
        state.Answered(status);
    }
}
