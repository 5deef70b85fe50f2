namespace CrewPlatform.ServiceDefaults;

/// <summary>
/// PostgreSQL <c>text</c> cannot hold U+0000, and Npgsql refuses strings with unpaired UTF-16 surrogates; either
/// would fail a whole batch or answer a 500. These helpers find and repair such strings before they reach the database.
/// </summary>
public static class StorableText
{
    public static bool IsStorable(string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '\0')
            {
                return false;
            }

            if (char.IsHighSurrogate(c))
            {
                if (i + 1 >= value.Length || !char.IsLowSurrogate(value[i + 1]))
                {
                    return false;
                }

                i++;
            }
            else if (char.IsLowSurrogate(c))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Drops U+0000 and replaces unpaired surrogates with U+FFFD; returns the value itself when already storable.</summary>
    public static string? Repair(string? value)
    {
        if (value is null || IsStorable(value))
        {
            return value;
        }

        var builder = new System.Text.StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '\0')
            {
                continue;
            }

            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                builder.Append(c).Append(value[++i]);
            }
            else if (char.IsSurrogate(c))
            {
                builder.Append('\uFFFD');
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }
}
