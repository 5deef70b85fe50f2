using System.Buffers.Binary;
using System.Buffers.Text;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using CrewPlatform.ResponseStore.Persistence;
using CrewPlatform.ServiceDefaults;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.EntityFrameworkCore;
using Microsoft.OpenApi;

namespace CrewPlatform.ResponseStore.Apis;

/// <summary>
/// The list's query string, bound with <c>[AsParameters]</c>. Each value binds through its own type, whose
/// <c>BindAsync</c> refuses a bad or repeated value with the contract's message (<see cref="InvalidRequestException"/>).
/// <c>after</c> continues from a previous page's <c>nextCursor</c> (keyset paging: as fast deep down as on the first
/// page); <c>includeTotal=true</c> counts every matching row, which costs a scan of them, so it is asked for, not given.
/// </summary>
public sealed record ListQuery(
    UserUidFilter? UserUid, PageLimit Limit, PageOffset Offset, DateBound? StartDate, DateBound? EndDate, PageCursor? After, IncludeTotal IncludeTotal,
    RunIdFilter? RunId, ChangedFilter? Changed)
{
    public const string StartAfterEnd = "startDate must not be after endDate";

    public bool StartsAfterItEnds => StartDate is { } start && End is ({ } end, var exclusive) && (exclusive ? start.Instant >= end : start.Instant > end);

    private (DateTime? Instant, bool Exclusive) End => DateBound.AsEnd(EndDate);

    public IQueryable<CrewResponse> Filter(IQueryable<CrewResponse> rows)
    {
        if (UserUid?.Value is { } user)
        {
            rows = rows.Where(r => r.UserUid == user);
        }

        if (RunId?.Value is { } run)
        {
            rows = rows.Where(r => r.RunId == run);
        }

        if (Changed?.Value is { } changed)
        {
            rows = rows.Where(r => r.Changed == changed);
        }

        if (StartDate?.Instant is { } from)
        {
            rows = rows.Where(r => r.CreatedAt >= from);
        }

        if (End is ({ } to, var exclusive))
        {
            rows = exclusive ? rows.Where(r => r.CreatedAt < to) : rows.Where(r => r.CreatedAt <= to);
        }

        return rows;
    }

    /// <summary>The page: newest first, ties by id, from <see cref="After"/> on when given, then <see cref="Offset"/> on.</summary>
    public IQueryable<CrewResponse> Page(IQueryable<CrewResponse> rows) =>
        (After is { } after ? after.Following(rows) : rows)
            .OrderByDescending(r => r.CreatedAt)
            .ThenByDescending(r => r.Id)
            .Skip(Offset.Value)
            .Take(Limit.Value);

    /// <summary>Where the next page starts; none after a page that is not full, since nothing follows it.</summary>
    public string? NextCursor(IReadOnlyList<CrewResponse> page) =>
        page.Count > 0 && page.Count == Limit.Value ? PageCursor.After(page[^1]) : null;
}

/// <summary>
/// <c>after</c>: an opaque cursor naming the last row of a page by its place in the order, (created_at, id). Rows
/// without a created_at (only ever written by hand) sort first, as PostgreSQL puts NULLs first in a descending order.
/// </summary>
public sealed record PageCursor(DateTime? CreatedAt, int Id) : IEndpointParameterMetadataProvider
{
    public static void PopulateMetadata(ParameterInfo parameter, EndpointBuilder builder) => QueryValue.Describe(parameter, builder, "string");


    public const string Invalid = "after must be a nextCursor from a previous page";
    private const int Length = sizeof(long) + sizeof(int);
    private const long NoCreatedAt = -1;

    public static string After(CrewResponse row)
    {
        Span<byte> bytes = stackalloc byte[Length];
        BinaryPrimitives.WriteInt64BigEndian(bytes, row.CreatedAt?.Ticks ?? NoCreatedAt);
        BinaryPrimitives.WriteInt32BigEndian(bytes[sizeof(long)..], row.Id);
        return Base64Url.EncodeToString(bytes);
    }

    public static ValueTask<PageCursor?> BindAsync(HttpContext http, ParameterInfo parameter) =>
        ValueTask.FromResult(QueryValue.Single(http, parameter) switch
        {
            null => null,
            var text => Parse(text) ?? throw new InvalidRequestException(Invalid),
        });

    private static PageCursor? Parse(string text)
    {
        Span<byte> bytes = stackalloc byte[Length];
        // Only the URL-safe base64 alphabet is a cursor; anything else (e.g. "../") is refused before decoding.
        if (text.Length != Base64Url.GetEncodedLength(Length)
            || !text.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_')
            || !Base64Url.TryDecodeFromChars(text, bytes, out var written) || written != Length)
        {
            return null;
        }

        var ticks = BinaryPrimitives.ReadInt64BigEndian(bytes);
        var id = BinaryPrimitives.ReadInt32BigEndian(bytes[sizeof(long)..]);
        return id > 0 && ticks is NoCreatedAt or (>= 0 and <= 3155378975999999999) // DateTime.MaxValue.Ticks
            ? new PageCursor(ticks == NoCreatedAt ? null : new DateTime(ticks, DateTimeKind.Utc), id)
            : null;
    }

    /// <summary>The rows after this one in the order created_at DESC, id DESC; a row comparison the index serves.</summary>
    public IQueryable<CrewResponse> Following(IQueryable<CrewResponse> rows)
    {
        var id = Id;
        if (CreatedAt is not { } createdAt)
        {
            return rows.Where(r => r.CreatedAt != null || r.Id < id);
        }

        return rows.Where(r => r.CreatedAt != null
            && EF.Functions.LessThan(ValueTuple.Create(r.CreatedAt.Value, r.Id), ValueTuple.Create(createdAt, id)));
    }
}

/// <summary><c>includeTotal</c>: <c>true</c> or <c>false</c>, false when absent.</summary>
public readonly record struct IncludeTotal(bool Value) : IEndpointParameterMetadataProvider
{
    public static void PopulateMetadata(ParameterInfo parameter, EndpointBuilder builder) => QueryValue.Describe(parameter, builder, "boolean");


    public static ValueTask<IncludeTotal> BindAsync(HttpContext http, ParameterInfo parameter) =>
        ValueTask.FromResult(QueryValue.Single(http, parameter, out var name) switch
        {
            null or "false" => new IncludeTotal(false),
            "true" => new IncludeTotal(true),
            _ => throw new InvalidRequestException($"{name} must be true or false"),
        });
}

/// <summary>
/// <c>changed</c>: <c>true</c> for the answers that differ from the user's previous answer on the same endpoint,
/// <c>false</c> for those equal to it; a first answer (nothing to compare with) matches neither.
/// </summary>
public sealed record ChangedFilter(bool Value) : IEndpointParameterMetadataProvider
{
    public static void PopulateMetadata(ParameterInfo parameter, EndpointBuilder builder) => QueryValue.Describe(parameter, builder, "boolean", description:
        "`true`: the answers that differ from the user's previous answer on the same endpoint; `false`: those equal to it. "
        + "A user's first answer matches neither.");

    public static ValueTask<ChangedFilter?> BindAsync(HttpContext http, ParameterInfo parameter) =>
        ValueTask.FromResult(QueryValue.Single(http, parameter, out var name) switch
        {
            null => null,
            "true" => new ChangedFilter(true),
            "false" => new ChangedFilter(false),
            _ => throw new InvalidRequestException($"{name} must be true or false"),
        });
}

/// <summary><c>userUid</c>: at most 255 characters PostgreSQL text can hold; no stored uid looks otherwise.</summary>
public sealed record UserUidFilter(string Value) : IEndpointParameterMetadataProvider
{
    public static void PopulateMetadata(ParameterInfo parameter, EndpointBuilder builder) => QueryValue.Describe(parameter, builder, "string");


    public static ValueTask<UserUidFilter?> BindAsync(HttpContext http, ParameterInfo parameter) =>
        ValueTask.FromResult(QueryValue.Single(http, parameter) switch
        {
            null => null,
            { Length: <= 255 } uid when StorableText.IsStorable(uid) => new UserUidFilter(uid),
            _ => throw new InvalidRequestException("userUid must be at most 255 characters of text"),
        });
}

/// <summary><c>runId</c>: the run that produced the answers, a UUID.</summary>
public sealed record RunIdFilter(Guid Value) : IEndpointParameterMetadataProvider
{
    public static void PopulateMetadata(ParameterInfo parameter, EndpointBuilder builder) => QueryValue.Describe(parameter, builder, "string", "uuid");

    public static ValueTask<RunIdFilter?> BindAsync(HttpContext http, ParameterInfo parameter) =>
        ValueTask.FromResult(QueryValue.Single(http, parameter, out var name) switch
        {
            null => null,
            var text when Guid.TryParseExact(text, "D", out var id) => new RunIdFilter(id),
            _ => throw new InvalidRequestException($"{name} must be a run id (a UUID such as 6f1c1f7e-3f53-4a43-9d3c-4a1c7e0b9f00)"),
        });
}

