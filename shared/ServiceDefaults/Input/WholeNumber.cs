using System.Globalization;

namespace CrewPlatform.ServiceDefaults;

/// <summary>Whole numbers from query strings and paths, read strictly.</summary>
public static class WholeNumber
{
    /// <summary>ASCII digits only that fit an int: no sign or spaces, and no trailing U+0000, which int.TryParse ignores.</summary>
    public static bool TryParse(string? text, out int value)
    {
        value = 0;
        return text is { Length: > 0 } && text.All(char.IsAsciiDigit) && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }
}
