using System.Text.Json;
using CrewPlatform.Testing;
using Deque.AxeCore.Commons;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;

namespace CrewPlatform.Dashboard.Tests;

/// <summary>
/// Headless Chromium (Debian's <c>chromium</c> and <c>chromium-driver</c>, installed by scripts/infra.sh) on the
/// dashboard: every host name but localhost resolves nowhere, so the page can load nothing from outside.
/// </summary>
public sealed class Browser : IDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>axe-core as Deque's package bundles it (Selenium.Axe 2.0.3 is built for Selenium 3 and cannot drive WebDriver 4).</summary>
    private static readonly Lazy<string> AxeScript = new(() => new BundledAxeScriptProvider().GetScript());

    private readonly Uri baseUrl;

    public Browser(Uri baseUrl, int width = 1280, int height = 900)
    {
        this.baseUrl = baseUrl;
        var service = ChromeDriverService.CreateDefaultService("/usr/bin", "chromedriver");
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        var options = new ChromeOptions { BinaryLocation = "/usr/bin/chromium" };
        options.AddArguments(
            "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", $"--window-size={width},{height}",
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1");
        options.SetLoggingPreference(LogType.Browser, LogLevel.All);
        Driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
    }

    public ChromeDriver Driver { get; }

    /// <summary>Lets the page write and read the clipboard, and saves downloads into <paramref name="directory"/>.</summary>
    public void AllowClipboardAndDownloads(string directory)
    {
        Driver.ExecuteCdpCommand("Browser.grantPermissions", new Dictionary<string, object?>
        {
            ["origin"] = baseUrl.GetLeftPart(UriPartial.Authority),
            ["permissions"] = new[] { "clipboardReadWrite", "clipboardSanitizedWrite" },
        });
        Driver.ExecuteCdpCommand("Browser.setDownloadBehavior", new Dictionary<string, object?> { ["behavior"] = "allow", ["downloadPath"] = directory });
    }

    public void Open(string pathAndHash) => Driver.Navigate().GoToUrl(new Uri(baseUrl, pathAndHash));

    public IWebElement Wait(By by, Func<IWebElement, bool>? condition = null, TimeSpan? timeout = null)
    {
        var wait = new WebDriverWait(Driver, timeout ?? Timeout);
        wait.IgnoreExceptionTypes(typeof(NoSuchElementException), typeof(StaleElementReferenceException));
        try
        {
            return wait.Until(d =>
            {
                var element = d.FindElement(by);
                return element.Displayed && (condition?.Invoke(element) ?? true) ? element : null;
            })!;
        }
        catch (WebDriverTimeoutException e)
        {
            var main = Driver.FindElements(By.Id("main")).FirstOrDefault()?.Text ?? Driver.PageSource[..Math.Min(2000, Driver.PageSource.Length)];
            throw new WebDriverTimeoutException($"{e.Message} waiting for {by} at {Driver.Url}; the page shows: {main}; console: {string.Join(" | ", ConsoleErrors())}", e);
        }
    }

    /// <summary>Clicks the element, finding it again if the page redrew it between finding and clicking.</summary>
    public void Click(By by)
    {
        var wait = new WebDriverWait(Driver, Timeout);
        wait.IgnoreExceptionTypes(typeof(NoSuchElementException), typeof(StaleElementReferenceException), typeof(ElementNotInteractableException));
        wait.Until(d =>
        {
            d.FindElement(by).Click();
            return true;
        });
    }

    /// <summary>The confirmation the page opened (it may first wait for an answer of the API, e.g. a preview).</summary>
    public IAlert WaitAlert()
    {
        var wait = new WebDriverWait(Driver, Timeout);
        wait.IgnoreExceptionTypes(typeof(NoAlertPresentException));
        return wait.Until(d => d.SwitchTo().Alert());
    }

    public void WaitText(By by, string contains, TimeSpan? timeout = null) =>
        Wait(by, e => e.Text.Contains(contains, StringComparison.Ordinal), timeout);

    public void SignIn(string key)
    {
        Open("/");
        var field = Wait(By.Id("key"));
        field.SendKeys(key);
        field.SendKeys(Keys.Enter);
    }

    /// <summary>Errors the page wrote to the console (SEVERE: script errors, refused resources, CSP violations) since the last call.</summary>
    public IReadOnlyList<string> ConsoleErrors() =>
        Driver.Manage().Logs.GetLog(LogType.Browser).Where(e => e.Level == LogLevel.Severe).Select(e => e.Message).ToList();

    public void AssertNoConsoleErrors(string page)
    {
        var errors = ConsoleErrors();
        Assert.True(errors.Count == 0, $"{page}: console errors: {string.Join(" | ", errors)}");
    }

    /// <summary>axe-core on the page as it is: no serious or critical violation.</summary>
    public void AssertAccessible(string page)
    {
        Driver.ExecuteScript(AxeScript.Value);
        var json = (string)Driver.ExecuteAsyncScript("""
            const done = arguments[arguments.length - 1];
            axe.run(document, { resultTypes: ['violations'] })
              .then(r => done(JSON.stringify(r.violations)), e => done(JSON.stringify([{ id: 'axe-error', impact: 'critical', help: String(e), nodes: [] }])));
            """)!;
        var serious = JsonDocument.Parse(json).RootElement.EnumerateArray()
            .Where(v => v.GetProperty("impact").GetString() is "serious" or "critical")
            .Select(v => $"{v.GetProperty("id")} ({v.GetProperty("impact")}): {v.GetProperty("help")} at " +
                         string.Join(", ", v.GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("target").ToString())))
            .ToList();
        Assert.True(serious.Count == 0, $"{page}: accessibility violations: {string.Join(" | ", serious)}");
    }

    /// <summary>A picture of the page for a human, under TestResults/dashboard/.</summary>
    public void Screenshot(string name)
    {
        var path = RealInfrastructure.RepositoryFile($"TestResults/dashboard/{name}.png");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        Driver.GetScreenshot().SaveAsFile(path);
    }

    /// <summary>What every page must pass: a screenshot for a human, no console errors, no serious accessibility violation.</summary>
    public void CheckPage(string screenshot, string page)
    {
        Screenshot(screenshot);
        AssertNoConsoleErrors(page);
        AssertAccessible(page);
    }

    public void Dispose()
    {
        Driver.Quit();
        Driver.Dispose();
    }
}
