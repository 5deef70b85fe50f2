using System.ComponentModel;
using System.Reflection;
using System.Security.Cryptography;
using System.Text.Json;
using CrewPlatform.ServiceDefaults;
using CrewPlatform.ServiceDefaults.Audit;
using CrewPlatform.Webhooks.Delivery;
using CrewPlatform.Webhooks.Persistence;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.EntityFrameworkCore;
using Microsoft.OpenApi;
using Npgsql;

namespace CrewPlatform.Webhooks.Apis;

/// <summary>
/// A new subscription: where to POST, which event types, optionally only the runs of one segment, only the answers an
/// SQL/JSON path predicate matches (<c>jsonPath</c>), and the answer itself in the payload (<c>includeAnswer</c>).
/// </summary>
public sealed record NewWebhook(
    string? Url, IReadOnlyList<string> Events, string? Segment,
    [property: Description(NewWebhook.JsonPathDescription)] string? JsonPath = null,
    [property: Description(NewWebhook.IncludeAnswerDescription)] bool IncludeAnswer = false)
{
    public const string JsonPathDescription =
        "An SQL/JSON path predicate (the language of `GET /api/crew-responses?jsonPath=`), e.g. "
        + "`exists($.Questions[*] ? (@.Answers[*] like_regex \"price\" flag \"i\"))`: `crew-response.stored` and "
        + "`crew-response.changed` deliveries are made only for answers it matches (one it errors on does not match). An event "
        + "that does not carry its answer (over 256 KB) is delivered with `\"filter\":\"not-evaluated\"` in its data. At most "
        + "2000 characters; events must name a crew-response event; other event types are not filtered.";

    public const string IncludeAnswerDescription =
        "Whether `crew-response.*` deliveries carry the answer itself in `data.answer` (when it is at most 256 KB; larger "
        + "ones only `data.answerUrl`). Default false; events must name a crew-response event.";

    private static readonly string[] Fields = ["url", "events", "segment", "jsonPath", "includeAnswer"];

    private static readonly string EventsRule = $"events must list one or more of: {string.Join(", ", WebhookEventTypes.All)}";

    private static readonly string AnswerEventsRule = $"applies to {string.Join(" and ", WebhookEventTypes.AboutAnswers)} only: events must name one of them";

    /// <summary>The url is checked by the handler (it resolves the host); the rest here, the path by PostgreSQL's parser.</summary>
    public static async ValueTask<NewWebhook> BindAsync(HttpContext http)
    {
        using var body = await JsonRequestBody.ReadAsync(http, "a webhook", Fields);
        var events = body.Field("events") is { ValueKind: JsonValueKind.Array } list
            ? list.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String && JsonShape.TryGetString(e, out var type) ? type : null).ToList()
            : null;
        if (events is not { Count: > 0 } || events.Any(e => e is null || !WebhookEventTypes.All.Contains(e, StringComparer.Ordinal)))
        {
            throw new InvalidRequestException(EventsRule);
        }

        var url = body.Field("url") is { ValueKind: JsonValueKind.String } text && JsonShape.TryGetString(text, out var value) ? value : null;
        var segment = body.OptionalName("segment");
        var includeAnswer = body.OptionalBoolean("includeAnswer") ?? false;
        var jsonPath = body.Field("jsonPath") switch
        {
            null => null,
            { ValueKind: JsonValueKind.String } path when JsonShape.TryGetString(path, out var written) => written,
            _ => throw new InvalidRequestException(SqlJsonPath.NotText("jsonPath")),
        };
        var aboutAnswers = events.Any(e => WebhookEventTypes.AboutAnswers.Contains(e, StringComparer.Ordinal));
        if (jsonPath is not null)
        {
            if (!aboutAnswers)
            {
                throw new InvalidRequestException($"jsonPath {AnswerEventsRule}");
            }

            await SqlJsonPath.CheckAsync(http.RequestServices.GetRequiredService<NpgsqlDataSource>(), "jsonPath", jsonPath, http.RequestAborted);
        }

        if (includeAnswer && !aboutAnswers)
        {
            throw new InvalidRequestException($"includeAnswer {AnswerEventsRule}");
        }

        return new NewWebhook(url, events.Distinct(StringComparer.Ordinal).ToArray()!, segment, jsonPath, includeAnswer);
    }
}

/// <summary>A subscription's id from the route: a malformed one is a 400, as in every service, before any lookup.</summary>
public readonly record struct WebhookId(Guid Value) : IEndpointParameterMetadataProvider
{
    public const string Invalid = "Invalid webhook ID";

    public static void PopulateMetadata(ParameterInfo parameter, EndpointBuilder builder) => RouteId.Describe(builder, "string", "uuid");

    public static ValueTask<WebhookId> BindAsync(HttpContext http) => ValueTask.FromResult(new WebhookId(RouteId.Guid(http, Invalid)));
}

public sealed record WebhookView(
    Guid Id, string Url, string[] Events, string? Segment, string? JsonPath, bool IncludeAnswer, DateTimeOffset CreatedAt, bool Enabled,
    DateTimeOffset? DisabledAt, string? DisabledReason)
{
    public static WebhookView Of(Subscription s) =>
        new(s.Id, s.Url, s.EventTypes, s.Segment, s.JsonPath, s.IncludeAnswer, s.CreatedAt, s.DisabledAt is null, s.DisabledAt, s.DisabledReason);
}

/// <summary>A subscription as created or rotated: the only time its secret is shown.</summary>
public sealed record WebhookWithSecret(WebhookView Webhook, string Secret);

public sealed record DeliveryAttemptView(
    string WebhookId, string EventType, string EventId, int Attempt, DateTimeOffset StartedAt, int? StatusCode, string? Error, long DurationMs,
    DateTimeOffset? NextAttemptAt, DateTimeOffset? DeliveredAt);

/// <summary>
/// <c>/api/webhooks</c>: subscriptions to the platform's events, signed per Standard Webhooks. Every change is an admin
/// action at the gateway.
/// </summary>
public static class WebhooksApi
{
    public const int MaxDeliveryRows = 200;

    public static IEndpointRouteBuilder MapWebhooksApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/webhooks").WithTags("Webhooks");
        api.MapGet("/", ListAsync).WithName("listWebhooks").WithSummary("Every subscription, oldest first, without its secret")
            .ProducesEnvelope<List<WebhookView>>();
        api.MapPost("/", CreateAsync).WithName("createWebhook").WithSummary("Subscribe a URL to events")
            .WithDescription("With a `segment`, `run.*` events come only from runs of that segment; with a `jsonPath`, `crew-response.*` "
                + "events only for the answers it matches; with `includeAnswer`, those carry the answer. The answer carries the signing secret, shown this once.")
            .Accepts<NewWebhook>("application/json")
            .ProducesEnvelope<WebhookWithSecret>(StatusCodes.Status201Created)
            .ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status413PayloadTooLarge);
        api.MapGet("/{id}", GetAsync).WithName("getWebhook").WithSummary("One subscription, without its secret")
            .ProducesEnvelope<WebhookView>().ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound);
        api.MapDelete("/{id}", DeleteAsync).WithName("deleteWebhook").WithSummary("Delete a subscription and its pending deliveries")
            .ProducesEnvelope<object>().ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound);
        api.MapPost("/{id}/rotate-secret", RotateSecretAsync).WithName("rotateWebhookSecret")
            .WithSummary("A new signing secret, shown this once, used from the next attempt on")
            .ProducesEnvelope<WebhookWithSecret>().ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound);
        api.MapGet("/{id}/deliveries", DeliveriesAsync).WithName("listWebhookDeliveries")
            .WithSummary($"The latest {MaxDeliveryRows} delivery attempts, newest first")
            .ProducesEnvelope<List<DeliveryAttemptView>>().ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound);
        return app;
    }

    public static async Task<IResult> ListAsync(WebhooksDbContext db, CancellationToken cancellationToken)
    {
        var subscriptions = await db.Subscriptions.AsNoTracking().OrderBy(s => s.CreatedAt).ToListAsync(cancellationToken);
        return ApiResults.Ok(subscriptions.Select(WebhookView.Of).ToList(), count: subscriptions.Count);
    }

    public static async Task<IResult> GetAsync(WebhookId webhookId, WebhooksDbContext db, CancellationToken cancellationToken) =>
        await FindAsync(webhookId, db, cancellationToken) is { } subscription
            ? ApiResults.Ok(WebhookView.Of(subscription))
            : ApiResults.NotFound("Webhook not found");

    public static async Task<IResult> CreateAsync(
        NewWebhook body, WebhooksDbContext db, WebhookTargets targets, TimeProvider clock, AuditTrail audit, HttpRequest request,
        CancellationToken cancellationToken)
    {
        if (await targets.RefusalAsync(body.Url, cancellationToken) is { } refusal)
        {
            return ApiResults.BadRequest(refusal);
        }

        var subscription = new Subscription
        {
            Id = Guid.NewGuid(),
            Url = body.Url!,
            EventTypes = [.. body.Events],
            Segment = body.Segment,
            JsonPath = body.JsonPath,
            IncludeAnswer = body.IncludeAnswer,
            Secret = NewSecret(),
            CreatedAt = clock.GetUtcNow(),
        };
        db.Subscriptions.Add(subscription);
        await db.SaveChangesAsync(cancellationToken);

        // A URL's path and query may be a credential of the receiver (a chat service's incoming webhook): only its origin is kept.
        await audit.RecordAsync(request, AuditActions.WebhookCreate, AuditTargets.Webhook(subscription.Id), new
        {
            Url = new Uri(subscription.Url).GetLeftPart(UriPartial.Authority),
            Events = subscription.EventTypes,
            subscription.Segment,
            subscription.JsonPath,
            subscription.IncludeAnswer,
        });
        return ApiResults.Created($"/api/webhooks/{subscription.Id}", new WebhookWithSecret(WebhookView.Of(subscription), subscription.Secret));
    }

    public static async Task<IResult> DeleteAsync(
        WebhookId webhookId, WebhooksDbContext db, AuditTrail audit, HttpRequest request, CancellationToken cancellationToken)
    {
        if (await FindAsync(webhookId, db, cancellationToken) is not { } subscription)
        {
            return ApiResults.NotFound("Webhook not found");
        }

        // Its pending deliveries and their log go with it (ON DELETE CASCADE).
        db.Subscriptions.Remove(subscription);
        await db.SaveChangesAsync(cancellationToken);
        await audit.RecordAsync(request, AuditActions.WebhookDelete, AuditTargets.Webhook(subscription.Id));
        return ApiResults.Message("Webhook deleted");
    }

    /// <summary>A new secret, effective for the next attempt of every delivery, pending ones included.</summary>
    public static async Task<IResult> RotateSecretAsync(
        WebhookId webhookId, WebhooksDbContext db, AuditTrail audit, HttpRequest request, CancellationToken cancellationToken)
    {
        if (await FindAsync(webhookId, db, cancellationToken) is not { } subscription)
        {
            return ApiResults.NotFound("Webhook not found");
        }

        subscription.Secret = NewSecret();
        await db.SaveChangesAsync(cancellationToken);
        await audit.RecordAsync(request, AuditActions.WebhookRotateSecret, AuditTargets.Webhook(subscription.Id));
        return ApiResults.Ok(new WebhookWithSecret(WebhookView.Of(subscription), subscription.Secret));
    }

    /// <summary>The latest attempts of the subscription's deliveries, newest first, with when each delivery is tried next.</summary>
    public static async Task<IResult> DeliveriesAsync(WebhookId webhookId, WebhooksDbContext db, CancellationToken cancellationToken)
    {
        if (await FindAsync(webhookId, db, cancellationToken) is not { } subscription)
        {
            return ApiResults.NotFound("Webhook not found");
        }

        var attempts = await (
                from attempt in db.DeliveryAttempts
                join delivery in db.Deliveries on attempt.DeliveryId equals delivery.Id
                where delivery.SubscriptionId == subscription.Id
                orderby attempt.StartedAt descending, attempt.Id descending
                select new { delivery, attempt })
            .AsNoTracking()
            .Take(MaxDeliveryRows)
            .ToListAsync(cancellationToken);
        var views = attempts.Select(row => new DeliveryAttemptView(
                row.delivery.WebhookId, row.delivery.EventType, row.delivery.EventId, row.attempt.Attempt, row.attempt.StartedAt,
                row.attempt.StatusCode, row.attempt.Error, row.attempt.DurationMs, row.delivery.NextAttemptAt, row.delivery.DeliveredAt))
            .ToList();
        return ApiResults.Ok(views, count: views.Count);
    }

    private static Task<Subscription?> FindAsync(WebhookId webhookId, WebhooksDbContext db, CancellationToken cancellationToken) =>
        db.Subscriptions.FirstOrDefaultAsync(s => s.Id == webhookId.Value, cancellationToken);

    /// <summary>A Standard Webhooks secret: <c>whsec_</c> and 32 random bytes in base64.</summary>
    private static string NewSecret() => "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
}
