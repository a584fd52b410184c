FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY flexhooks flexhooks
COPY accounts accounts
COPY endpoints endpoints
COPY deliveries deliveries
COPY templates templates
COPY manage.py ./
RUN pip install --no-cache-dir . && python manage.py collectstatic --noinput
EXPOSE 8000
