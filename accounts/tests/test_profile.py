"""Profile settings: the page, the service's rules and the avatar pipeline."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts import services
from accounts.tests.factories import UserFactory
from core.errors import ValidationFailed


def image_bytes(fmt="PNG", size=(600, 400), colour=(200, 30, 90), mode="RGB", **save_kwargs) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, colour).save(buffer, format=fmt, **save_kwargs)
    return buffer.getvalue()


def upload(name="me.png", content=None, content_type="image/png"):
    return SimpleUploadedFile(name, content if content is not None else image_bytes(), content_type=content_type)


def form_data(**overrides):
    data = {
        "display_name": "Alice L.",
        "bio": "Down the rabbit hole.",
        "home_currency": "USD",
        "country": "US",
        "state": "NY",
        "time_zone": "America/New_York",
    }
    data.update(overrides)
    return data


def test_settings_page_needs_login(client, db):
    response = client.get("/settings/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_settings_page_shows_the_profile_and_links(signed_in, verified_user):
    page = signed_in.get("/settings/").content.decode()
    assert "Alice Liddell" in page and "@alice" in page
    for url in ("/accounts/email/", "/accounts/password/change/", "/accounts/2fa/"):
        assert f'href="{url}"' in page
    assert 'class="avatar avatar-initials' in page and ">AL</span>" in page
    assert 'enctype="multipart/form-data"' in page


def test_profile_update_saves_and_redirects(signed_in, verified_user):
    response = signed_in.post("/settings/", form_data())
    assert response.status_code == 302
    assert response.url == "/settings/"
    verified_user.refresh_from_db()
    assert verified_user.display_name == "Alice L."
    assert verified_user.bio == "Down the rabbit hole."
    assert (str(verified_user.country), verified_user.state) == ("US", "NY")
    assert verified_user.time_zone == "America/New_York"
    assert "Your profile is saved." in signed_in.get("/settings/").content.decode()


def test_time_zone_applies_to_the_pages(signed_in, verified_user):
    signed_in.post("/settings/", form_data(time_zone="Asia/Tokyo"))
    response = signed_in.get("/settings/")
    verified_user.refresh_from_db()
    assert verified_user.time_zone == "Asia/Tokyo"
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"country": "US", "state": ""}, "state", "required for addresses in the United States"),
        ({"country": "FR", "state": "NY"}, "state", "only be given when the country is the United States"),
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone", "Select a valid choice"),
        ({"home_currency": "XXX"}, "home_currency", "Select a valid choice"),
        ({"bio": "x" * 161}, "bio", "at most 160 characters"),
    ],
)
def test_profile_rules_show_on_the_form(signed_in, verified_user, overrides, field, message):
    verified_user.state = "NY"  # a saved US address: clearing its state is refused
    verified_user.save(update_fields=["state"])
    response = signed_in.post("/settings/", form_data(**overrides))
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    verified_user.refresh_from_db()
    assert verified_user.display_name == "Alice Liddell"  # nothing saved
    assert "Alice Liddell" in response.content.decode()  # the nav still shows the saved name


def test_moving_abroad_without_a_state_is_fine(signed_in, verified_user):
    response = signed_in.post(
        "/settings/", form_data(country="GB", state="", home_currency="GBP", time_zone="Europe/London")
    )
    assert response.status_code == 302
    verified_user.refresh_from_db()
    assert (str(verified_user.country), verified_user.state, verified_user.home_currency) == ("GB", "", "GBP")


def test_avatar_upload_is_reencoded_to_a_256_square(signed_in, verified_user):
    jpeg = image_bytes("JPEG", size=(800, 500), exif=Image.Exif())
    response = signed_in.post("/settings/", {**form_data(), "avatar": upload("holiday.jpg", jpeg, "image/jpeg")})
    assert response.status_code == 302
    verified_user.refresh_from_db()
    assert verified_user.avatar
    assert not verified_user.avatar.name.endswith("holiday.jpg")  # a fresh random name
    with verified_user.avatar.open("rb") as stored, Image.open(stored) as image:
        assert image.size == (256, 256)
        assert image.format in {"JPEG", "PNG"}
        assert not image.getexif()
    page = signed_in.get("/settings/").content.decode()
    assert f'src="{verified_user.avatar.url}"' in page
    assert "Remove my avatar" in page


def test_transparent_png_stays_png(db):
    user = UserFactory()
    services.profile_update(user, avatar=upload(content=image_bytes(mode="RGBA", colour=(0, 0, 0, 0))))
    with user.avatar.open("rb") as stored, Image.open(stored) as image:
        assert image.format == "PNG" and image.size == (256, 256) and image.mode == "RGBA"


def test_avatar_over_2mb_is_refused(signed_in, verified_user):
    big = image_bytes("PNG", size=(64, 64)) + b"\0" * (2 * 1024 * 1024)
    response = signed_in.post("/settings/", {**form_data(), "avatar": upload(content=big)})
    assert response.status_code == 200
    assert "the limit is 2 MB" in " ".join(response.context["form"].errors["avatar"])
    verified_user.refresh_from_db()
    assert not verified_user.avatar


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("evil.png", b"this is just text, not an image\n" * 10),
        ("evil.png", b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"),
        ("shot.bmp", image_bytes("BMP")),
        ("cut.png", image_bytes("PNG")[:60]),
    ],
)
def test_non_images_and_other_formats_are_refused(signed_in, verified_user, name, content):
    response = signed_in.post("/settings/", {**form_data(), "avatar": upload(name, content)})
    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors["avatar"])
    assert "JPEG" in errors or "damaged" in errors
    verified_user.refresh_from_db()
    assert not verified_user.avatar


def test_remove_avatar_goes_back_to_initials(signed_in, verified_user):
    signed_in.post("/settings/", {**form_data(), "avatar": upload()})
    verified_user.refresh_from_db()
    old = verified_user.avatar.name
    storage = verified_user.avatar.storage
    assert storage.exists(old)
    response = signed_in.post("/settings/", {**form_data(), "remove_avatar": "on"})
    assert response.status_code == 302
    verified_user.refresh_from_db()
    assert not verified_user.avatar
    assert ">AL</span>" in signed_in.get("/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_replacing_an_avatar_deletes_the_old_file():
    user = UserFactory()
    services.profile_update(user, avatar=upload())
    first = user.avatar.name
    services.profile_update(user, avatar=upload(content=image_bytes(colour=(1, 2, 3))))
    assert user.avatar.name != first
    assert not user.avatar.storage.exists(first)
    assert user.avatar.storage.exists(user.avatar.name)


def test_profile_update_is_all_or_nothing(db):
    user = UserFactory(display_name="Before", country="US", state="NY")
    with pytest.raises(ValidationFailed) as exc:
        services.profile_update(user, display_name="After", country="US", state="")
    assert exc.value.code == "invalid_profile"
    assert "state" in exc.value.fields
    assert user.display_name == "Before"  # in memory too
    user.refresh_from_db()
    assert user.display_name == "Before"


def test_profile_update_changes_only_what_is_given(db):
    user = UserFactory(country="US", state="")  # legacy row without a state
    services.profile_update(user, bio="  hello  ")
    user.refresh_from_db()
    assert user.bio == "hello" and str(user.country) == "US"


def test_avatar_process_rejects_decompression_bombs(monkeypatch):
    monkeypatch.setattr(services, "AVATAR_MAX_PIXELS", 100)
    with pytest.raises(services.AvatarInvalid):
        services.avatar_process(upload(content=image_bytes(size=(20, 20))))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP"])
def test_every_allowed_format_is_accepted(fmt):
    result = services.avatar_process(upload(f"a.{fmt.lower()}", image_bytes(fmt, size=(300, 900))))
    with Image.open(result) as image:
        assert image.size == (256, 256)


def test_a_new_account_without_a_state_can_still_save_its_other_settings(db):
    """New accounts default to the US with no state: saving anything else must not demand one."""
    from accounts.services import profile_update
    from accounts.tests.factories import UserFactory

    user = UserFactory(country="US", state="")
    profile_update(user, bio="Hello", country="US", state="", is_protected=True)
    user.refresh_from_db()
    assert user.bio == "Hello" and user.is_protected and user.state == ""
