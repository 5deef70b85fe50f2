using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace CrewPlatform.FakeCrewApi;

/// <summary>
/// A realistic crew answer, the same for the same input: <c>{"Questions":[{"Question 1":"...","Answers":["..."]}, ...]}</c>,
/// with <c>"usage": {"total_cost": ...}</c> when the call is priced.
/// </summary>
public static class CrewAnswers
{
    private static readonly string[] Topics =
    [
        "pricing", "customer acquisition", "retention", "hiring", "cash flow", "partnerships", "product roadmap", "marketing channels",
    ];

    private static readonly string[] Openers =
    [
        "Start by measuring", "Run a two-week experiment on", "Interview five customers about", "Write down one target for",
        "Compare last quarter's numbers on", "Ask your best customers how they think about",
    ];

    public static JsonObject For(string? context, string? goal, decimal? totalCost = null)
    {
        var seed = SHA256.HashData(Encoding.UTF8.GetBytes($"{context}\u0001{goal}"));
        var questionCount = 3 + (seed[0] % 3);
        var goalText = string.IsNullOrWhiteSpace(goal) ? "growing the business" : Excerpt(goal);
        var contextText = string.IsNullOrWhiteSpace(context) ? "your business" : Excerpt(context);

        var questions = new JsonArray();
        for (var i = 0; i < questionCount; i++)
        {
            var topic = Topics[(seed[1] + i) % Topics.Length];
            var answers = new JsonArray();
            for (var a = 0; a < 2 + (seed[10 + i] % 2); a++)
            {
                answers.Add($"{Openers[seed[20 + i + a] % Openers.Length]} {topic} in {contextText}.");
            }

            questions.Add(new JsonObject
            {
                [$"Question {i + 1}"] = $"How does {topic} move you towards {goalText}?",
                ["Answers"] = answers,
            });
        }

        var answer = new JsonObject { ["Questions"] = questions };
        if (totalCost is { } cost)
        {
            answer["usage"] = new JsonObject { ["total_cost"] = cost };
        }

        return answer;
    }

    private static string Excerpt(string text)
    {
        var trimmed = text.Trim().ReplaceLineEndings(" ");
        return trimmed.Length <= 60 ? trimmed : string.Concat(trimmed.AsSpan(0, 57), "...");
    }
}
