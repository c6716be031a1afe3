"""Built-in help-desk vocabulary for the data generator: no corpus is downloaded.

Words are grouped by the slot they fill in a phrase template. A few carry accents or mixed
case on purpose (``café``, ``Zürich``, ``iOS``), because search must be accent- and
case-insensitive. ``RARE_WORDS`` each appear in a handful of tickets: the "rare term"
queries of the search benchmark pick from them.
"""

from __future__ import annotations


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _lines(text: str) -> tuple[str, ...]:
    """One entry per non-empty line: phrases keep their spaces and accents."""
    return tuple(line.strip() for line in text.strip().splitlines() if line.strip())


TICKET_TYPES = (
    ("Question", 40),
    ("Bug", 30),
    ("Feature request", 12),
    ("Billing", 10),
    ("Incident", 8),
)

FIRST_NAMES = _words(
    """
Ann Bruno Chloé Dmitri Elena François Gabriel Hana Ingrid José Kai Léa Marta Nils Oscar
Priya Quentin Renée Søren Tomás Ursula Valentina Wei Xavier Yara Zoë Łukasz Ömer Aisha
Björn Carmen Diego Emma Fatima Giulia Hugo Isabel Jonas Kenji Lucas Maya Noah Olivia
Pablo Rosa Sofia
"""
)

LAST_NAMES = _lines(
    """
Müller
García
Nakamura
O'Brien
Dubois
Kowalski
Rossi
Jensen
Silva
Novák
Andersson
Schmidt
López
Ivanova
Chen
Patel
Smith
Johansson
Fernández
Martin
Bianchi
Kim
Nguyen
Okafor
Haddad
van Dijk
Ångström
Brontë
Sánchez
Weiß
"""
)

COMPANY_WORDS = _lines(
    """
Acme
Globex
Initech
Umbrella
Stark
Wayne
Hooli
Vandelay
Soylent
Tyrell
Cyberdyne
Aperture
Monarch
Oscorp
Wonka
Gringotts
Nakatomi
Zürich
Kraków
Málaga
Gdańsk
São Paulo
Besançon
Örebro
Lyon
Northwind
Contoso
Fabrikam
Litware
Tailspin
Adventure
Blue Yonder
"""
)

COMPANY_SUFFIXES = _lines(
    """
Ltd
GmbH
Inc.
S.A.
AB
Labs
Logistics
Foods
Café
Systems
Partners
Consulting
Health
Retail
Studios
"""
)

PRODUCTS = _lines(
    """
invoice
billing portal
mobile app
dashboard
API
CSV export
SSO login
password reset
webhook
CSV import
notification email
calendar sync
report builder
payment page
subscription
Slack integration
iOS app
Android app
admin console
search bar
PDF download
user invitation
two-factor code
audit log
data retention policy
OAuth token
GraphQL endpoint
SAML setup
custom domain
résumé upload
order history
shipping label
refund request
price list
tax settings
team permissions
inbox view
macOS client
Zapier workflow
Salesforce sync
PayPal checkout
café menu page
"""
)

PROBLEMS = _lines(
    """
fails
is very slow
shows an error
times out
crashes
returns a 500 error
does not load
is missing data
duplicates entries
logs me out
is blank
sends the wrong amount
shows the wrong date
cannot be saved
keeps spinning
rejects my password
charges us twice
ignores the filter
breaks the layout
is stuck in pending
shows garbled characters
loses my changes
"""
)

CONTEXTS = _lines(
    """
after the latest update
since this morning
on Safari
for some of our users
when I click Save
on the iOS app
in Firefox
for new accounts only
every Monday
after the migration
when the file is large
behind our VPN
for users in Zürich
with the French locale
on slow connections
since we changed plans
in the staging workspace
during peak hours
when two people edit at once
after a password reset
for the naïve search mode
"""
)

VERBS = _words(
    """
open export import update delete download sync configure approve cancel share print
archive restore invite rename
"""
)

ADJECTIVES = _words(
    """
urgent important strange intermittent recurring critical minor annoying blocking
unexpected new old random consistent
"""
)

TITLE_TEMPLATES = _lines(
    """
{product} {problem} {context}
{Adjective} issue: {product} {problem}
Cannot {verb} the {product} {context}
Question about the {product}
How do I {verb} our {product}?
{product} {problem}
Request: allow us to {verb} the {product} {context}
URGENT - {product} {problem}
Help with {product} and {product2}
Our {product} {problem} {context}
"""
)

SENTENCE_TEMPLATES = _lines(
    """
Hi team, our {product} {problem} {context}.
I tried to {verb} the {product} but it {problem}.
This started {context} and it is {adjective} for us.
Could you check why the {product} {problem}?
We need to {verb} the {product} before the end of the month.
Several colleagues in {company_word} see the same thing {context}.
The {product} worked fine last week, now it {problem}.
Is there a way to {verb} the {product} from the {product2}?
I attached a screenshot of the {product}; it {problem} {context}.
Our accountant {first_name} says the {product} {problem}.
We are on the {plan} plan, if that matters.
Steps: {verb} the {product}, then {verb2} the {product2}, and it {problem}.
The error mentions {error_code} when we {verb} the {product}.
Merci for looking into this, it is {adjective} for the whole café team.
Please let me know if you need more details about the {product}.
We use the {product} every day, so this is {adjective}.
"""
)

REPLY_TEMPLATES = _lines(
    """
Thanks {first_name}, I can reproduce it: the {product} {problem} {context}.
Could you send us the exact time it happened and a screenshot of the {product}?
We deployed a fix for the {product}; can you try to {verb} it again?
It still {problem} on our side {context}.
That worked, the {product} is fine now. Thank you!
I have asked our engineers to look at the {product}.
Can you confirm which browser you use to {verb} the {product}?
We see {error_code} in our logs for your workspace.
Great, I will close this ticket once you confirm the {product} works.
Sorry for the delay, the {product} issue is {adjective} and we are on it.
"""
)

NOTE_TEMPLATES = _lines(
    """
Internal: escalated to engineering, looks like the {product} regression.
Internal: customer is on the {plan} plan; refund approved by {first_name}.
Internal: duplicate of an older {product} report, linking it.
Internal: do not promise a date for the {product} fix yet.
Internal: {error_code} traced to the {product} worker, hotfix pending.
"""
)

PLANS = _words(
    """
Starter Pro Business Enterprise Premium
"""
)

ERROR_CODES = tuple(f"E{code}" for code in (401, 403, 404, 409, 422, 500, 502, 503, 504))

RARE_WORDS = _words(
    """
quokka zeppelin kumquat xylophone marzipan obsidian tamarind narwhal pangolin sextant
dirigible gazpacho anemone basilisk cormorant damask ermine fennec gossamer halcyon ibex
jicama kestrel lorikeet mandolin nebula ocelot parsnip quince rhubarb samovar tapir
umlaut vicuña wombat yuzu zither axolotl bergamot chinchilla dulcimer éclair flamingo
gnocchi hibiscus iguana jacaranda kohlrabi lychee manatee nougat oregano pelican quetzal
rosemary saffron toucan ukulele vanilla walrus yak zinnia albatross bonsai crème
dachshund eucalyptus falafel guava harpsichord indigo jalapeño koala lavender meerkat
"""
)
