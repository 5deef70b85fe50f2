using Npgsql;

namespace CrewPlatform.ServiceDefaults;

/// <summary>
/// An SQL/JSON path predicate as the platform takes it, wherever a caller gives one (the answers' <c>jsonPath</c>
/// search, a webhook subscription's <c>jsonPath</c> filter): PostgreSQL's own <c>jsonpath</c> language, evaluated as
/// <c>answer @@ path</c>, e.g. <c>exists($.Questions[*] ? (@.Answers[*] like_regex "price" flag "i"))</c> or
/// <c>$.score &gt; 3</c>. A path PostgreSQL cannot parse is refused with PostgreSQL's own message; a path that is not a
/// predicate (<c>$.a</c>) is valid but yields no boolean, so it matches no answer.
/// </summary>
public static class SqlJsonPath
{
    public const int MaxLength = 2000;

    /// <summary>The refusal of a path PostgreSQL cannot parse, before its message: <c>{name} is not a valid SQL/JSON path</c>.</summary>
    public static string Invalid(string name) => $"{name} is not a valid SQL/JSON path";

    /// <summary>The refusal of an empty path, one too long, or one that is no storable text.</summary>
    public static string NotText(string name) => $"{name} must be at most {MaxLength} characters of text";

    /// <summary>
    /// Refuses, as an <see cref="InvalidRequestException"/> naming <paramref name="name"/>, a path that is empty, longer
    /// than <see cref="MaxLength"/>, no storable text, or that PostgreSQL cannot parse (carrying PostgreSQL's message).
    /// Parsed on its own, in a cheap statement whose failure can only be the path's.
    /// </summary>
    public static async Task CheckAsync(NpgsqlDataSource dataSource, string name, string path, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new InvalidRequestException($"{name} must not be empty");
        }

        if (path.Length > MaxLength || !StorableText.IsStorable(path))
        {
            throw new InvalidRequestException(NotText(name));
        }

        await using var command = dataSource.CreateCommand("SELECT $1::jsonpath IS NOT NULL");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = path });
        try
        {
            await command.ExecuteScalarAsync(cancellationToken);
        }
        catch (PostgresException ex) when (IsRefusedInput(ex))
        {
            throw new InvalidRequestException($"{Invalid(name)}: {ex.MessageText}");
        }
    }

    /// <summary>What PostgreSQL says of a path it cannot accept: a syntax error (42601), a bad value or regular expression (class 22), an unsupported feature (0A000), a path too complex (class 54).</summary>
    public static bool IsRefusedInput(PostgresException ex) =>
        ex.SqlState.StartsWith("22", StringComparison.Ordinal) || ex.SqlState.StartsWith("42", StringComparison.Ordinal)
        || ex.SqlState.StartsWith("0A", StringComparison.Ordinal) || ex.SqlState.StartsWith("54", StringComparison.Ordinal);
}
